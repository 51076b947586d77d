"""Energy model: sourced defaults, TOML overrides, the pricing formula, the count rules."""

import dataclasses
import inspect

import pytest

import flexspim.energy.costs as costs_mod
from flexspim.config import AccumulateOp, MacroConfig, Operand
from flexspim.energy.costs import EnergyCosts
from flexspim.energy.counts import Counts, count_accumulate, count_fire
from flexspim.energy.model import layer_energy
from flexspim.golden.cycles import accumulate_cycles
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


@pytest.mark.parametrize("saturate", [True, False])
def test_accumulate_counts_match_the_bitserial_replay(saturate):
    # The read count is the number of activated bits the hardware replay touches: per
    # cycle, one row per weight plus V, in every enabled column.
    macro = MacroConfig(rows=32, cols=5, batch_max=4)
    m = MacroModel(macro)
    m.load(Operand(0, 6), [1, 2, 3, 4, 5])
    op = AccumulateOp(v_row=0, bv=6, w_rows=(8, 12, 16), bw=3, saturate=saturate)
    mask = [True, True, False, True, False]
    trace = accumulate_bitserial(macro, m.bits, op, mask)
    add_cycles = op.bv + (macro.guard_cycles if saturate else 0)
    assert trace.cycles == accumulate_cycles(macro, op.bv, saturate)
    c = Counts()
    count_accumulate(c, 3, 3, op.bv, macro.guard_cycles, saturate, trace.cycles, 9)
    assert c.array_read_bits == 3 * add_cycles * 4
    assert c.array_write_bits == 3 * 6
    assert (c.accumulates, c.sops, c.cycles) == (1, 9, trace.cycles)
    count_fire(c, 2, 11, 10)
    assert (c.fire_passes, c.cycles) == (1, trace.cycles + 11)
    assert c.array_write_bits == 3 * 6 + 2 * 10


def test_counts_add():
    a = Counts(sops=1, moved_bits=2)
    b = Counts(sops=3, swaps=1)
    assert (a + b).to_dict() == {**Counts().to_dict(), "sops": 4, "moved_bits": 2, "swaps": 1}
