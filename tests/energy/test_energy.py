"""Energy model: sourced defaults, TOML overrides, the pricing formula, the count rules."""

import dataclasses
import inspect

import numpy as np
import pytest

import flexspim.energy.costs as costs_mod
from flexspim.config import AccumulateOp, LayerConfig, MacroConfig, Operand
from flexspim.energy.costs import EnergyCosts
from flexspim.energy.counts import Counts, count_accumulate, count_fire
from flexspim.energy.model import layer_energy
from flexspim.golden.cycles import accumulate_cycles, fire_cycles
from flexspim.golden.macro import MacroModel, accumulate_bitserial


def test_every_default_names_its_source():
    doc = inspect.getdoc(EnergyCosts)
    src = inspect.getsource(costs_mod)
    for f in dataclasses.fields(EnergyCosts):
        # the attribute's paragraph in the class docstring cites the paper
        para = doc.split(f"{f.name}:")[1].split("\n        ")[0:3]
        text = " ".join(para)
        assert "Horowitz" in text or "as ``array_read_bit``" in text, f.name
    for const in ("ARRAY_BIT_PJ", "FULL_ADDER_PJ", "BUFFER_BIT_PJ", "DRAM_BIT_PJ"):
        comment = src.split(f"\n{const} =")[0].rsplit("\n\n", 1)[-1]
        assert "Horowitz ISSCC 2014" in comment, const


def test_default_values_follow_the_cited_figures():
    c = EnergyCosts()
    # Horowitz 45 nm: 10 pJ / 64-bit 8 KB SRAM access, 0.03 pJ 8-bit add, 100 pJ / 64-bit
    # 1 MB SRAM, 1.3 nJ / 64-bit DRAM; on-chip x 40/45
    assert c.array_read_bit == pytest.approx(10 / 64 * 40 / 45)
    assert c.full_adder == pytest.approx(0.03 / 8 * 40 / 45)
    assert c.buffer_bit == pytest.approx(100 / 64 * 40 / 45)
    assert c.dram_bit == pytest.approx(1300 / 64)


def test_toml_override_and_validation():
    c = EnergyCosts.from_toml({"energy": {"dram_bit": 5.0}})
    assert c.dram_bit == 5.0 and c.buffer_bit == EnergyCosts().buffer_bit
    with pytest.raises(ValueError, match="unknown EnergyCosts parameter"):
        EnergyCosts.from_toml({"energy": {"sram": 1}})
    with pytest.raises(ValueError, match=r"`dram_bit` must be an energy in pJ.*-1"):
        EnergyCosts(dram_bit=-1)
    with pytest.raises(ValueError, match="`energy` must be a TOML table"):
        EnergyCosts.from_toml({"energy": 3})


def test_pricing_formula_by_hand():
    c = Counts(array_read_bits=10, port_read_bits=5, array_write_bits=3, port_write_bits=2,
               adder_ops=7, moved_bits=4, setup_bits=1)
    costs = EnergyCosts(array_read_bit=1, array_write_bit=2, full_adder=3, buffer_bit=5,
                        dram_bit=11)
    e = layer_energy(c, costs, "buffer")
    assert (e.array, e.adders, e.buffer, e.dram, e.setup) == (25, 21, 20, 0, 13)
    assert e.total == 66
    assert layer_energy(c, costs, "dram").dram == 44
    with pytest.raises(ValueError, match="4 bits moved"):
        layer_energy(c, costs, "none")
    with pytest.raises(ValueError, match="`backing` must be one of"):
        layer_energy(c, costs, "tape")


class CountingBits(np.ndarray):
    """The macro's bit array, counting what the bit-serial replay touches: every row it
    reads (``bits[row]``) and every bit it writes (``bits[row, column_mask] = ...``)."""

    log: dict = {}

    def __getitem__(self, idx):
        if self.ndim == 2 and isinstance(idx, (int, np.integer)):
            CountingBits.log["row_reads"] += 1
        return super().__getitem__(idx)

    def __setitem__(self, idx, value):
        if self.ndim == 2 and isinstance(idx, tuple) and isinstance(idx[0], (int, np.integer)):
            CountingBits.log["bit_writes"] += int(np.count_nonzero(idx[1]))
        super().__setitem__(idx, value)


@pytest.mark.parametrize("saturate", [True, False])
def test_accumulate_counts_match_the_instrumented_bitserial_replay(saturate):
    # The count rule is checked against what golden.macro.accumulate_bitserial (the
    # cycle-by-cycle replay) actually reads and writes, not against its own formula.
    macro = MacroConfig(rows=32, cols=5, batch_max=4)
    m = MacroModel(macro)
    m.load(Operand(0, 6), [30, 2, 3, 31, 5])
    for row in (8, 12, 16):                              # three 3-bit weights of 3 each
        m.load(Operand(row, 3), [3, 3, 3, 3, 3])
    op = AccumulateOp(v_row=0, bv=6, w_rows=(8, 12, 16), bw=3, saturate=saturate)
    mask = np.array([True, True, False, True, False])
    CountingBits.log = {"row_reads": 0, "bit_writes": 0}
    trace = accumulate_bitserial(macro, m.bits.view(CountingBits), op, mask)
    active, n, bv = 3, 3, 6
    guard = macro.guard_cycles if saturate else 0
    assert guard == (3 if saturate else 0)                 # P = 4: ceil(log2 5) = 3
    # by hand: 6 add cycles read V and 3 weights = 24 rows; the 3 guard cycles read the 3
    # weights' sign rows only = 9 rows (V's sign is in a register)
    assert CountingBits.log["row_reads"] == (24 + 9 if saturate else 24)
    # writes: one bit of V per add cycle in the 3 enabled columns = 18, plus the clamp pass:
    # columns 0 and 3 overflow (30 + 9 = 39, 31 + 9 = 40 > 31), 6 bits each
    overflowed = int(trace.overflow.sum())
    assert overflowed == (2 if saturate else 0)
    assert CountingBits.log["bit_writes"] == 18 + 6 * overflowed
    c = Counts()
    count_accumulate(c, active, n, bv, macro.guard_cycles, saturate, trace.cycles, 9)
    assert c.array_read_bits == CountingBits.log["row_reads"] * active   # 108 or 72 bits
    assert c.array_write_bits == CountingBits.log["bit_writes"] - 6 * overflowed  # no clamp
    assert (c.accumulates, c.sops, c.cycles) == (1, 9, trace.cycles)
    # cycles by hand: 1 issue + 1 read-ahead + 6 add (+ 3 guard + 6 clamp when saturating:
    # two columns overflowed)
    assert trace.cycles == (17 if saturate else 8) == accumulate_cycles(macro, bv, saturate)


def test_fire_counts_by_hand():
    # shift leak, hard reset, bv = 10: leak pass 10 + compare 10 + reset 10 = 30 cycles that
    # touch the array, + 1 issue + 1 read-ahead = 32 (golden.cycles); on 3 columns each
    # charged 2 reads,
    # 1 write, 1 full add: 180 read bits, 90 write bits, 90 adds
    cfg = LayerConfig(bw=3, bv=10, leak_mode="shift", leak=2, threshold=4)
    assert fire_cycles(cfg) == 32
    c = Counts()
    count_fire(c, 3, fire_cycles(cfg), 30)
    assert (c.fire_passes, c.cycles, c.array_read_bits, c.array_write_bits, c.adder_ops) == \
        (1, 32, 180, 90, 90)


def test_counts_add():
    a = Counts(sops=1, moved_bits=2)
    b = Counts(sops=3, swaps=1)
    assert (a + b).to_dict() == {**Counts().to_dict(), "sops": 4, "moved_bits": 2, "swaps": 1}
