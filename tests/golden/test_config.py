"""Validation: every impossible value raises ValueError naming parameter, value and range."""

import pytest

from flexspim.config import (
    MAX_BATCH,
    MAX_BITS,
    MAX_BUS_BITS,
    AccumulateOp,
    FireOp,
    LayerConfig,
    MacroConfig,
    Operand,
    check_disjoint,
    digest,
)


@pytest.mark.parametrize("kw, name, text", [
    (dict(rows=0, cols=4), "rows", "[1, 4096], not 0"),
    (dict(rows=-3, cols=4), "rows", "not -3"),
    (dict(rows=4.0, cols=4), "rows", "not 4.0"),
    (dict(rows=True, cols=4), "rows", "not True"),
    (dict(rows=4, cols=0), "cols", "[1, 4096], not 0"),
    (dict(rows=4, cols=5000), "cols", "not 5000"),
    (dict(rows=4, cols=4, batch_max=0), "batch_max", f"[1, {MAX_BATCH}], not 0"),
    (dict(rows=4, cols=4, batch_max=MAX_BATCH + 1), "batch_max", f"not {MAX_BATCH + 1}"),
])
def test_macro_config_rejects(kw, name, text):
    with pytest.raises(ValueError, match=rf"`{name}`") as e:
        MacroConfig(**kw)
    assert text in str(e.value)


@pytest.mark.parametrize("cols, batch_max, wider", [
    (4095, 15, dict(cols=4096)), (3855, 16, dict(cols=3856)), (1023, 63, dict(cols=1024)),
    (1008, 64, dict(cols=1009)), (2047, 31, dict(batch_max=32))])
def test_macro_config_bus_limit(cols, batch_max, wider):
    """(batch_max + 1) * cols is one netlist value: accepted at the cap, refused one past it."""
    assert (batch_max + 1) * cols <= MAX_BUS_BITS
    MacroConfig(rows=4096, cols=cols, batch_max=batch_max)
    with pytest.raises(ValueError, match=r"`batch_max` \+ 1 times `cols` must be at most 65535"):
        MacroConfig(**{"rows": 4096, "cols": cols, "batch_max": batch_max, **wider})


def test_macro_config_degenerate_and_derived():
    m = MacroConfig(rows=1, cols=1, batch_max=1)
    assert m.row_addr_width == 1 and m.max_bits == 1
    assert MacroConfig(rows=64, cols=64, batch_max=8).guard_cycles == 4   # ceil(log2 9)
    assert MacroConfig(rows=64, cols=64, batch_max=7).guard_cycles == 3   # ceil(log2 8)
    assert MacroConfig(rows=64, cols=64, batch_max=3).guard_cycles == 2   # ceil(log2 4)
    assert MacroConfig(rows=64, cols=64, batch_max=1).guard_cycles == 1
    assert MacroConfig(rows=8, cols=4, batch_max=8).carry_width == 4      # carry <= P = 8
    assert MacroConfig(rows=8, cols=4, batch_max=1).carry_width == 1
    assert MacroConfig(rows=8, cols=4, batch_max=7).carry_width == 3
    assert MacroConfig(rows=4096, cols=4, batch_max=1).max_bits == MAX_BITS


@pytest.mark.parametrize("kw, name", [
    (dict(bw=0, bv=8), "bw"),
    (dict(bw=9, bv=8), "bw"),                        # bw > bv rejected
    (dict(bw=1, bv=MAX_BITS + 1), "bv"),
    (dict(bw=1, bv=8, saturate=1), "saturate"),
    (dict(bw=1, bv=8, leak_mode="exp"), "leak_mode"),
    (dict(bw=1, bv=8, leak_mode="sub", leak=128), "leak"),
    (dict(bw=1, bv=8, leak_mode="sub", leak=-1), "leak"),
    (dict(bw=1, bv=8, leak_mode="shift", leak=8), "leak"),
    (dict(bw=1, bv=8, leak_mode="none", leak=1), "leak"),
    (dict(bw=1, bv=8, threshold=128), "threshold"),
    (dict(bw=1, bv=8, threshold=-129), "threshold"),
    (dict(bw=1, bv=8, threshold_source="rom"), "threshold_source"),
    (dict(bw=1, bv=8, reset="none"), "reset"),
])
def test_layer_config_rejects(kw, name):
    with pytest.raises(ValueError, match=rf"`{name}`"):
        LayerConfig(**kw)


def test_layer_config_boundaries_accepted():
    LayerConfig(bw=1, bv=1, threshold=-1)
    LayerConfig(bw=8, bv=8, leak_mode="sub", leak=127, threshold=127)
    LayerConfig(bw=1, bv=8, leak_mode="shift", leak=7, threshold=-128)
    with pytest.raises(ValueError, match=r"`bv`.*\[1, 4\], not 8"):
        LayerConfig(bw=1, bv=8).check_fits(MacroConfig(rows=4, cols=1))


def test_operand_placement():
    m = MacroConfig(rows=16, cols=2, batch_max=2)
    Operand(8, 8).check_fits(m)
    with pytest.raises(ValueError, match=r"`v` rows 9\.\.16 do not fit.*\[0, 15\]"):
        Operand(9, 8).check_fits(m, "v")
    with pytest.raises(ValueError, match=r"`a` \(rows 0\.\.3\) overlaps `b` \(rows 3\.\.4\)"):
        check_disjoint([("a", Operand(0, 4)), ("b", Operand(3, 2))])
    check_disjoint([("a", Operand(0, 4)), ("b", Operand(4, 2))])


@pytest.mark.parametrize("kw, name", [
    (dict(v_row=0, bv=4, w_rows=(4, 4), bw=2), "w_rows"),            # duplicate
    (dict(v_row=0, bv=4, w_rows=(4, 8, 10), bw=2), "w_rows"),        # more than P=2
    (dict(v_row=0, bv=4, w_rows=(3,), bw=2), "w_rows"),              # overlaps V
    (dict(v_row=0, bv=4, w_rows=(15,), bw=2), "w_rows"),             # off the array
    (dict(v_row=14, bv=4, w_rows=(0,), bw=2), "v_row"),              # off the array
    (dict(v_row=0, bv=4, w_rows=(4,), bw=5), "bw"),                  # bw > bv
    (dict(v_row=0, bv=17, w_rows=(), bw=1), "bv"),                   # more than rows
])
def test_accumulate_op_rejects(kw, name):
    m = MacroConfig(rows=16, cols=2, batch_max=2)
    with pytest.raises(ValueError, match=rf"`{name}"):
        AccumulateOp(**kw).check_fits(m)


def test_fire_op_rejects():
    m = MacroConfig(rows=16, cols=2)
    arr = LayerConfig(bw=1, bv=4, threshold_source="array")
    with pytest.raises(ValueError, match="`theta_row`"):
        FireOp(0, arr)
    with pytest.raises(ValueError, match="`theta_row`"):
        FireOp(0, LayerConfig(bw=1, bv=4), theta_row=4)
    with pytest.raises(ValueError, match="overlaps"):
        FireOp(0, arr, theta_row=2).check_fits(m)
    FireOp(0, arr, theta_row=4).check_fits(m)


def test_configs_hashable_and_digest_stable():
    a, b = MacroConfig(16, 16, 2), MacroConfig(16, 16, 2)
    assert hash(a) == hash(b) and a.digest() == b.digest()
    assert a.digest() != MacroConfig(16, 16, 3).digest()
    assert digest(a) == a.digest()
    assert MacroConfig.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError, match="unknown MacroConfig parameter.*colums"):
        MacroConfig.from_dict({"rows": 4, "colums": 4})
