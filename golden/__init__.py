"""The golden model: plain NumPy, bit-exact specification of the hardware.

* `golden.layers`: the level-1 layer types (FC and conv) and their geometry helpers.
* `golden.network`: level 1, integer SNN semantics of a network of those layers on an event
  stream, with no hardware detail (`golden.network_fast`: the same results, vectorized).
* `golden.macro`: level 2, the macro as a bit matrix (row port, accumulate, fire), with
  `accumulate_bitserial` replaying the hardware cycle by cycle.
* `golden.cycles`: the cycle formulas the RTL must meet exactly.
* `golden.batching`: the rule that groups input events into accumulate batches.
* `golden.core`: one FC layer on a neuron core, driven by events (controller rules, work
  cycles).
* `golden.fanout`: the conv address generator, input event -> the accumulates of a batch.
* `golden.system`: cores behind the event router, programmed through the register map.

Never imports `flexspim.hdl`.
"""

from .batching import TICK, form_batches
from .core import CoreModel
from .cycles import accumulate_cycles, fire_cycles
from .layers import ConvLayer, FCLayer
from .macro import MacroModel, accumulate_bitserial
from .network import Network, run_layer
from .system import SystemModel

__all__ = ["TICK", "form_batches", "accumulate_cycles", "fire_cycles", "MacroModel",
           "accumulate_bitserial", "FCLayer", "ConvLayer", "Network", "run_layer",
           "CoreModel", "SystemModel"]
