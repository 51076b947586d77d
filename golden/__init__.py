"""The golden model: plain NumPy, bit-exact specification of the hardware.

* `golden.macro`: level 2, the macro as a bit matrix (row port, accumulate, fire, cycles).
* `golden.batching`: the rule that groups input events into accumulate batches.
* `golden.network`: level 1, integer SNN semantics of a network on an event stream.
* `golden.cycles`: the cycle formulas the RTL must meet exactly.

Never imports `flexspim.hdl`.
"""

from .batching import TICK, form_batches
from .cycles import accumulate_cycles, fire_cycles
from .macro import MacroModel, accumulate_bitserial
from .network import ConvLayer, FCLayer, Network, run_layer

__all__ = ["TICK", "form_batches", "accumulate_cycles", "fire_cycles", "MacroModel",
           "accumulate_bitserial", "FCLayer", "ConvLayer", "Network", "run_layer"]
