"""Area of one bit of a custom CIM storage macro, for pricing the storage without
synthesizing it (``--storage bitcell``).

**Per-bit cost of a custom macro** (an assumption with its derivation, not a datasheet
figure; the two published inputs were not re-checked here):

* a 6T SRAM bitcell is ~0.43 NAND2 equivalents: Intel's 45 nm 6T cell, 0.346 um^2 (Mistry
  et al., IEDM 2007), over the NanGate 45 nm NAND2_X1, 0.798 um^2;
* a decoupled read port (the 8T cell) makes it ~1.3x larger (the commonly quoted 8T
  overhead, e.g. Chang et al., VLSI Symposium 2005);
* each further read port adds one read wordline track and one read bitline track, so a
  wire-limited multiport cell grows as the square of its ports: ``0.43 * (1 + k r)^2`` NAND2
  for ``r`` read ports, with ``k = sqrt(1.3) - 1 = 0.14`` so that ``r = 1`` is the 8T cell.

The macro has ``P + 1`` read ports, so P = 8 costs 2.2 NAND2 per bit (5.1x the 6T cell). In
um^2 the bit is scaled by the Liberty's own NAND2 (OSU 0.18: NAND2X1 = 24 um^2, so a 6T bit
is 10.3 um^2), so storage and periphery are priced at the same cell density. The sweep's
``--bitcell-nand2`` and ``--port-growth`` override the two constants.
"""

from __future__ import annotations

import math

__all__ = ["BITCELL_6T_NAND2", "PORT_GROWTH", "bitcell_nand2"]

#: One 6T bitcell in NAND2 equivalents: 0.346 / 0.798 um^2 (see the module docstring).
BITCELL_6T_NAND2 = 0.43
#: Growth per read port, ``(1 + k r)^2``: ``k = sqrt(1.3) - 1`` (8T = 1.3 x 6T).
PORT_GROWTH = round(math.sqrt(1.3) - 1, 3)


def bitcell_nand2(read_ports: int, base: float = BITCELL_6T_NAND2,
                  growth: float = PORT_GROWTH) -> float:
    """NAND2 equivalents of one custom-macro bit with ``read_ports`` decoupled read ports."""
    return base * (1 + growth * read_ports) ** 2
