"""Front end: network description files, NIR import, synthetic DVS events, shipped examples.

* `frontend.netfile`: the ``.toml`` + ``.npz`` network description format.
* `frontend.nir_import`: NIR graphs to integer networks, with a quantization report.
* `frontend.dvs`: synthetic DVS gesture-like event streams (tonic's event format) and their
  conversion to the event streams of `golden.batching`.
* `frontend.examples`: the shipped DVS-gesture-sized network.
"""

from .netfile import load_network, save_network

__all__ = ["load_network", "save_network"]
