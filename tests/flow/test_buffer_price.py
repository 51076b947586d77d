"""The operand buffer is priced as an SRAM macro (`flow.storage.buffer_area`, docs/buffer.md):
bit cell times an overhead measured on OpenRAM macros, never as flip-flops."""

from __future__ import annotations

import pytest

from flexspim.config import BufferConfig
from flexspim.flow.bitcell import bitcell_nand2
from flexspim.flow.storage import (
    OPENRAM_CELL_UM2,
    OPENRAM_MACROS,
    buffer_area,
    is_buffer_module,
    is_storage_module,
    sram_overhead,
)


def test_the_measured_macros_are_reproduced_exactly_in_their_own_units():
    for (words, width), area in OPENRAM_MACROS.items():
        bits = words * width
        assert sram_overhead(bits) * bits * OPENRAM_CELL_UM2 == pytest.approx(area)


def test_overhead_falls_with_size_and_is_clamped_outside_the_measurements():
    sizes = sorted(w * d for w, d in OPENRAM_MACROS)
    assert sram_overhead(1) == sram_overhead(sizes[0])
    assert sram_overhead(sizes[-1] * 1000) == sram_overhead(sizes[-1])
    mid = int((sizes[0] * sizes[1]) ** 0.5)
    assert sram_overhead(sizes[1]) < sram_overhead(mid) < sram_overhead(sizes[0])


def test_buffer_area_is_bits_times_a_1r1w_cell_times_the_overhead():
    a = buffer_area(BufferConfig(256, 64), nand2_um2=24.0)   # OSU 0.18 NAND2X1
    assert a["bits"] == 16384
    assert a["cell_um2"] == pytest.approx(bitcell_nand2(1) * 24.0)
    assert a["area_um2"] == pytest.approx(16384 * a["cell_um2"] * a["overhead"])
    assert 2 < a["overhead"] < 4
    with pytest.raises(ValueError, match="`nand2_um2` must be positive"):
        buffer_area(BufferConfig(4, 4), 0)


def test_buffer_module_is_named_apart_from_the_cim_array():
    assert is_buffer_module("flexspim_operand_buffer") and is_buffer_module("\\x_operand_buffer")
    assert not is_buffer_module("flexspim_cim_array")
    assert not is_storage_module("flexspim_operand_buffer")
