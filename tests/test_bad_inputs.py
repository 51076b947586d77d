"""Bad input, table-driven, across every subcommand (issue 14's acceptance test).

Each case runs ``flexspim.cli.main`` in-process and must: return 2, print exactly one line on
stderr starting with ``error:`` that names the bad value (the case's needle), print no
traceback, and write nothing (the test's folder and the working directory are unchanged).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fc2"
NET, EVENTS = str(EXAMPLE / "net.toml"), str(EXAMPLE / "events.npy")
N_IN = 18   # the fc2 example's inputs (a 3 x 3 sensor, 2 polarities)

# Placeholders resolved per test: {out} = a fresh output folder, {plot} = a fresh PNG path,
# {in} = the folder of bad input files (written once per session).
BASE = {
    "generate": ["generate", "-o", "{out}", "--rows", "16", "--cols", "16"],
    "run": ["run", NET, EVENTS, "-o", "{out}"],
    "cycles": ["cycles", "--rows", "16", "--cols", "16", "--bv", "8", "--bw", "4"],
    "map": ["map", NET],
    "map-example": ["map", "--example", "dvs-gesture"],
    "study": ["study", "--plot", "{plot}", "--sizes", "1024x32", "--keep", "1"],
    "sweep": ["sweep", "-o", "{out}", "--rows", "16", "--cols", "16", "--no-area",
              "--no-network", "-j", "1"],
}

CASES: list[tuple[str, list[str], str]] = []   # (command, extra args, needle)


def case(cmd: str, extra: list[str], needle: str | None = None) -> None:
    CASES.append((cmd, extra, extra[-1] if needle is None else needle))


# --- argparse: values that are not numbers, unknown choices --------------------------------
INT_OPTIONS = {
    "generate": ["--rows", "--cols", "--batch", "--fifo-depth", "--index-bits", "--cores",
                 "--in-fifo-depth", "--words", "--addr-bits", "--outstanding"],
    "run": ["--rows", "--cols", "--batch", "--cores", "--fifo-depth", "--index-bits",
            "--dt-us"],
    "cycles": ["--rows", "--cols", "--batch", "--bv", "--bw", "--leak"],
    "map": ["--rows", "--cols", "--batch", "--cores", "--buffer-bits", "--dt-us",
            "--downsample", "--steps", "--seed"],
    "study": ["--cores", "--batch", "--buffer-bits", "--gesture"],
    "sweep": ["--buffer-bits", "-j"],
}
for cmd, opts in INT_OPTIONS.items():
    for opt in opts:
        for bad in ("x", "1.5", "", "1e3", "0x10"):
            case(cmd, [opt, bad], repr(bad))
for cmd, opt in (("map", "--rate"), ("map", "--dt"), ("sweep", "--bitcell-nand2")):
    for bad in ("x", "", "1,5"):
        case(cmd, [opt, bad], repr(bad))
for cmd, opt in (("generate", "--top"), ("cycles", "--leak-mode"), ("cycles", "--reset"),
                 ("map", "--example"), ("sweep", "--leak-mode"), ("sweep", "--reset")):
    case(cmd, [opt, "bogus"], "'bogus'")
for cmd in BASE:
    case(cmd, ["--no-such-option"], "--no-such-option")

# --- ranges ----------------------------------------------------------------------------------
for cmd in ("generate", "cycles", "map", "run"):
    for opt, bad in (("--rows", "0"), ("--rows", "-1"), ("--rows", "5000"), ("--cols", "0"),
                     ("--cols", "4097"), ("--batch", "0"), ("--batch", "65")):
        case(cmd, [opt, bad])
for extra in (["--top", "core", "--fifo-depth", "0"], ["--top", "core", "--fifo-depth", "5000"],
              ["--top", "core", "--index-bits", "0"], ["--top", "core", "--index-bits", "25"],
              ["--cores", "0"], ["--cores", "30"], ["--cores", "2", "--in-fifo-depth", "0"],
              ["--cores", "2", "--in-fifo-depth", "4097"]):
    case("generate", extra)
for extra in (["--fifo-depth", "0"], ["--index-bits", "25"], ["--cores", "0"],
              ["--cores", "1"], ["--cores", "30"], ["--dt-us", "0"], ["--dt-us", "-5"]):
    case("run", extra, {"1": "n_cores=1"}.get(extra[-1]))
for extra in (["--bv", "0"], ["--bv", "33"], ["--bw", "0"], ["--bw", "9"], ["--leak", "1"],
              ["--leak-mode", "shift", "--leak", "8"], ["--leak-mode", "sub", "--leak", "-1"],
              ["--bv", "17"]):
    case("cycles", extra)
for extra in (["--cores", "0"], ["--buffer-bits", "-1"], ["--steps", "0"],
              ["--steps", "9999999"], ["--seed", "-1"], ["--rate", "1.5"], ["--rate", "-0.1"],
              ["--rate", "nan"], ["--dataflow", "wos"], ["--dataflow", "ws,os,ws"]):
    case("map", extra)
for extra in (["--cores", "0"], ["--batch", "0"], ["--batch", "65"], ["--buffer-bits", "-1"],
              ["--gesture", "-1"], ["--gesture", "11"], ["--sizes", "1024"],
              ["--sizes", "1024x"], ["--sizes", "axb"], ["--sizes", "0x32"],
              ["--sizes", "5000x32"], ["--sizes", "1024x32x2"], ["--keep", "0"],
              ["--keep", "1.5"], ["--keep", "x"], ["--keep", "-1"], ["--keep", "nan"],
              ["--keep", "1,,0.5"]):
    case("study", extra)
for extra in (["-j", "0"], ["-j", "-3"], ["-j", "100000"], ["--buffer-bits", "-1"],
              ["--scheduler", "nowhere"], ["--scheduler", "tcp://"]):
    case("sweep", extra)
for bad in ("-1", "0", "nan", "1e9"):      # with area: the range of the option
    case("sweep", ["--bitcell-nand2", bad, "@area"], {"1e9": "1000000000"}.get(bad, bad))
    case("sweep", ["--bitcell-nand2", bad], "--bitcell-nand2")  # --no-area: does not apply

# --- sweep axes --------------------------------------------------------------------------------
for axis in ("--rows", "--cols", "--batch", "--bw", "--bv"):
    for bad in ("x", "16:8", "1:4:0x", "1:4:+0", "1:4:3", "1:100000000", "", "1:2:2y",
                "4,,8"):
        case("sweep", [axis, bad], repr(bad))
for bad, needle in (("wos", "wos"), ("", "''"), ("ws,hybird", "hybird")):
    case("sweep", ["--dataflow", bad], needle)
case("sweep", ["--rows", "1:64", "--cols", "1:64", "--bv", "1:8"], "4096")

# --- geometry past the generator's bus cap: (batch + 1) * cols <= 65535 ----------------------
for top in (["--top", "macro"], ["--top", "core"], ["--cores", "2"]):
    case("generate", [*top, "--rows", "4096", "--cols", "4096", "--batch", "15"], "65535")
    case("generate", [*top, "--cols", "1009", "--batch", "64"], "65585")

# --- options that do not apply -----------------------------------------------------------------
for extra, needle in ((["--top", "macro", "--cores", "2"], "--cores"),
                      (["--top", "macro", "--fifo-depth", "4"], "--fifo-depth"),
                      (["--top", "macro", "--index-bits", "8"], "--index-bits"),
                      (["--top", "macro", "--in-fifo-depth", "4"], "--in-fifo-depth"),
                      (["--top", "core", "--cores", "2"], "--cores"),
                      (["--top", "core", "--in-fifo-depth", "4"], "--in-fifo-depth")):
    case("generate", extra, needle)
for extra, needle in ((["--bw", "4"], "--bw"), (["--bv", "8"], "--bv"), (["--dt", "0.001"], "--dt"),
                      (["--dt-us", "100"], "--dt-us"), (["--downsample", "2"], "--downsample")):
    case("map", extra, needle)
case("map", ["--example", "dvs-gesture"], "--example")       # with a NETWORK too
case("map-example", ["--dt-us", "1000000000"], "1000000000")
case("map-example", ["--steps", "100000"], "100000")
case("map-example", ["--events", "{in}/ev_u64.npy"], "ev_u64.npy")
case("map-example", ["--rate", "0.5"], "--rate")

# --- output paths ------------------------------------------------------------------------------
case("sweep", ["--no-area", "--synth-array"], "--synth-array")
case("sweep", ["--no-network", "--buffer-bits", "100"], "--buffer-bits")
for cmd in ("generate", "run", "sweep"):
    for bad, needle in (("", "''"), ("{in}/a_file", "a_file"), ("{in}/a_file/sub", "a_file"),
                        ("{in}/" + "n" * 300, "n" * 40), ("{in}/" + "/".join(["d" * 200] * 25),
                                                         "too long")):
        case(cmd, ["-o", bad], needle)
for bad, needle in (("", "''"), ("{in}", "folder"), ("{in}/a_file/x.png", "a_file"),
                    ("{in}/plot.txt", "plot.txt"), ("{in}/missing/x.png", "missing"),
                    ("{in}/" + "n" * 300 + ".png", "n" * 40)):
    case("study", ["--plot", bad], needle)

# --- TOML files --------------------------------------------------------------------------------
TOML = {
    "sytem.toml": ("[sytem]\nn_cores = 2\n", "sytem"),
    "toprows.toml": ("rows = 16\n", "'rows'"),
    "macro5.toml": ("macro = 5\n", "5"),
    "columns.toml": ("[macro]\ncolumns = 8\n", "columns"),
    "rowsx.toml": ("[macro]\nrows = 'x'\ncols = 16\n", "'x'"),
    "rows15.toml": ("[macro]\nrows = 1.5\ncols = 16\n", "1.5"),
    "rowsbool.toml": ("[macro]\nrows = true\ncols = 16\n", "True"),
    "fifo.toml": ("[core]\nfifo = 3\n", "fifo"),
    "syscores.toml": ("[system]\ncores = 2\n", "cores"),
    "syntax.toml": ("[macro\n", "syntax.toml"),
    "binary.toml": (b"\xff\xfe\x00[macro]", "binary.toml"),
    "energyhw.toml": ("[energy]\ndram_bit = 1\n", "energy"),
    "coretable.toml": ("core = [1, 2]\n", "core"),
}
for cmd in ("generate", "run", "cycles"):
    for name, (_, needle) in TOML.items():
        if cmd == "cycles" and name in ("fifo.toml", "syscores.toml"):
            continue   # cycles reads only [macro]; the other tables are checked all the same
        case(cmd, ["--config", "{in}/" + name], needle)
for name in ("sytem.toml", "toprows.toml", "macro5.toml", "columns.toml", "rowsx.toml",
             "syntax.toml", "fifo.toml"):
    case("map", ["--config", "{in}/" + name], TOML[name][1] if name != "fifo.toml" else "core")
SWEEP_TOML = {
    "sw_row.toml": ("[sweep]\nrow = '16'\n", "row"),
    "sw_swep.toml": ("[swep]\nrows = 16\n", "swep"),
    "sw_macro.toml": ("[macro]\nrows = 16\n", "macro"),
    "sw_rows.toml": ("[sweep]\nrows = '16:8'\n", "16:8"),
    "sw_sat.toml": ("[sweep]\nsaturate = 'yes'\n", "'yes'"),
    "sw_top.toml": ("sweep = 1\n", "1"),
    "sw_energy.toml": ("[energy]\nbogus = 1\n", "bogus"),
}
for name, (_, needle) in SWEEP_TOML.items():
    case("sweep", ["--config", "{in}/" + name], needle)
ENERGY_TOML = {
    "en_none.toml": ("[macro]\nrows = 16\n", "macro"),
    "en_empty.toml": ("", "en_empty.toml"),
    "en_bogus.toml": ("[energy]\nbogus = 1\n", "bogus"),
    "en_scalar.toml": ("energy = 3\n", "3"),
    "en_str.toml": ("[energy]\ndram_bit = 'x'\n", "'x'"),
}
for name, (_, needle) in ENERGY_TOML.items():
    case("map", ["--energy", "{in}/" + name], needle)
for cmd in ("map", "map-example", "sweep"):
    case(cmd, ["--energy-preset", "flexspim-28nm"], "'flexspim-28nm'")
case("map-example", ["--example", "fc-8b16b", "--dt-us", "5"], "--dt-us")
for cmd in ("generate", "run", "cycles", "map", "sweep"):
    case(cmd, ["--config", "{in}/missing.toml"], "missing.toml")
    case(cmd, ["--config", "{in}"], "bad-inputs")


# --- event files -------------------------------------------------------------------------------
def _tonic(n, **fields):
    ev = np.zeros(n, dtype=[("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])
    for k, v in fields.items():
        ev[k] = v
    return ev


EVENT_FILES = {
    "ev_empty.npy": b"",
    "ev_text.npy": b"not an array\n",
    "ev_npz.npy": "npz",
    "ev_obj.npy": np.array([1, "a", None], dtype=object),
    "ev_2d.npy": np.zeros((3, 2), dtype=np.int64),
    "ev_float.npy": np.array([0.0, 1.0, -1.0]),
    "ev_bool.npy": np.array([True, False]),
    "ev_u64.npy": np.array([0, 2**64 - 1, 3], dtype=np.uint64),
    "ev_neg.npy": np.array([0, -2, -1]),
    "ev_big.npy": np.array([0, N_IN, -1]),
    "ev_i8.npy": np.array([0, -128, -1], dtype=np.int8),
    "ev_notick.npy": np.array([0, 1, 2]),
    "ev_str.npy": np.array(["0", "1"]),
    "ev_complex.npy": np.array([1 + 1j]),
}
TONIC_FILES = {
    "tn_not.npy": np.zeros(3, dtype=[("x", "<i2"), ("y", "<i2"), ("p", "?")]),
    "tn_fx.npy": np.zeros(3, dtype=[("x", "<f4"), ("y", "<i2"), ("p", "?"), ("t", "<i8")]),
    "tn_negt.npy": _tonic(3, t=[-5, 0, 1]),
    "tn_span.npy": _tonic(2, t=[0, 10**12]),
    "tn_x.npy": _tonic(2, x=[0, 7]),
    "tn_p.npy": np.array([(0, 0, 2, 0)], dtype=[("x", "<i2"), ("y", "<i2"), ("p", "<i2"),
                                                ("t", "<i8")]),
    "tn_2d.npy": _tonic(4).reshape(2, 2),
    "tn_negx.npy": _tonic(2, x=[0, -1]),
}
for name in list(EVENT_FILES) + list(TONIC_FILES) + ["missing.npy"]:
    case("run", ["@events={in}/" + name], name)
    case("map", ["--events", "{in}/" + name], name)
case("run", ["@events={in}"], "bad-inputs")
case("map", ["--events", "{in}"], "bad-inputs")
case("run", ["--sensor", "3"], "'3'")
case("run", ["--sensor", "4,4"], "4 x 4")
case("run", ["--sensor", "a,b"], "'a,b'")

# --- network files -----------------------------------------------------------------------------
FC = '[[layers]]\nname = "{n}"\ntype = "fc"\nbw = 3\nbv = 8\n'
NETWORKS = {
    "nt_dup.toml": ('format = "flexspim-network"\nversion = 1\narrays = "nt.npz"\n'
                    + FC.format(n="a") + FC.format(n="a"), "'a'"),
    "nt_format.toml": ('format = "other"\nversion = 1\n', "'other'"),
    "nt_version.toml": ('format = "flexspim-network"\nversion = 7\n', "7"),
    "nt_nolayers.toml": ('format = "flexspim-network"\nversion = 1\n', "layers"),
    "nt_key.toml": ('format = "flexspim-network"\nversion = 1\narrays = "nt.npz"\n'
                    + FC.format(n="a") + "colour = 1\n", "colour"),
    "nt_bw.toml": ('format = "flexspim-network"\nversion = 1\narrays = "nt.npz"\n'
                   + FC.format(n="a").replace("bw = 3", "bw = 0"), "0"),
    "nt_type.toml": ('format = "flexspim-network"\nversion = 1\narrays = "nt.npz"\n'
                     + FC.format(n="a").replace('"fc"', '"rnn"'), "'rnn'"),
    "nt_name.toml": ('format = "flexspim-network"\nversion = 1\narrays = "nt.npz"\n'
                     + FC.format(n="a").replace('name = "a"', "name = 5"), "5"),
    "nt_noarr.toml": ('format = "flexspim-network"\nversion = 1\narrays = "none.npz"\n'
                      + FC.format(n="a"), "none.npz"),
    "nt_missing_w.toml": ('format = "flexspim-network"\nversion = 1\narrays = "nt.npz"\n'
                          + FC.format(n="zz"), "zz.weights"),
    "nt_range.toml": ('format = "flexspim-network"\nversion = 1\narrays = "nt_range.npz"\n'
                      + FC.format(n="a"), "[-4, 3]"),
    "nt_syntax.toml": ("format = \n", "nt_syntax.toml"),
    "nt_topkey.toml": ('format = "flexspim-network"\nversion = 1\nlayer = []\n', "layer"),
    "nt_npy.toml": ('format = "flexspim-network"\nversion = 1\narrays = "plain.npy"\n'
                    + FC.format(n="a"), "plain.npy"),
}
for name, (_, needle) in {**NETWORKS, "missing.toml": (None, "missing.toml")}.items():
    case("run", ["@net={in}/" + name], needle)
    case("map", ["@net={in}/" + name], needle)


def _write_inputs(d: Path) -> None:
    (d / "a_file").write_text("x")
    for name, (text, _) in {**TOML, **SWEEP_TOML, **ENERGY_TOML}.items():
        (d / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    for name, v in {**EVENT_FILES, **TONIC_FILES}.items():
        if isinstance(v, bytes):
            (d / name).write_bytes(v)
        elif isinstance(v, str):
            np.savez(d / "tmp.npz", a=np.zeros(3))
            (d / "tmp.npz").rename(d / name)
        else:
            with open(d / name, "wb") as f:
                np.save(f, v, allow_pickle=True)
    for name, (text, _) in NETWORKS.items():
        (d / name).write_text(text)
    np.savez(d / "nt.npz", **{"a.weights": np.ones((4, N_IN), dtype=np.int64)})
    np.savez(d / "nt_range.npz", **{"a.weights": np.full((4, N_IN), 9, dtype=np.int64)})
    np.save(d / "plain.npy", np.zeros(3))


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad-inputs")
    _write_inputs(d)
    return d


def _argv(cmd: str, extra: list[str], needle: str, tmp: Path, inputs: Path) -> list[str]:
    argv = list(BASE[cmd])
    if extra and extra[0].startswith("@"):      # a positional file: @net=... or @events=...
        kind, path = extra[0][1:].split("=", 1)
        argv[1 if kind == "net" else 2] = path
        extra = extra[1:]
    if "@area" in extra:                       # the sweep's base without --no-area
        argv.remove("--no-area")
        extra = [a for a in extra if a != "@area"]
    sub = {"{out}": str(tmp / "out"), "{plot}": str(tmp / "plot.png"), "{in}": str(inputs)}
    out = []
    for a in argv + extra:
        for k, v in sub.items():
            a = a.replace(k, v)
        out.append(a)
    return out


def _tree(p: Path) -> list[str]:
    return sorted(str(q.relative_to(p)) for q in p.rglob("*"))


def _ids():
    seen: dict[str, int] = {}
    out = []
    for cmd, extra, needle in CASES:
        base = f"{cmd}-{' '.join(extra) or needle}"[:60]
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out


def test_the_table_is_large_enough():
    assert len(CASES) >= 300, len(CASES)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cases")


@pytest.mark.parametrize("i, cmd, extra, needle", [(i, *c) for i, c in enumerate(CASES)],
                         ids=_ids())
def test_bad_input_is_one_line_exit_2_and_writes_nothing(i, cmd, extra, needle, inputs, work,
                                                         capsys):
    tmp = work / f"case{i}"          # cheaper than tmp_path: this table has 500+ cases
    cwd = tmp / "cwd"
    cwd.mkdir(parents=True)
    argv = _argv(cmd, extra, needle, tmp, inputs)
    before, before_in = _tree(tmp), _tree(inputs)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        rc = main(argv)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    assert rc == 2, (argv, rc, err)
    lines = err.splitlines()
    # one error line; a refused fit may add what would fit (mapper.suggest), nothing else
    assert lines and lines[0].startswith("error: "), (argv, err)
    assert all(ln.startswith(("would fit: ", "no single change")) for ln in lines[1:]), \
        (argv, err)
    assert needle in lines[0], (argv, needle, err)
    assert _tree(tmp) == before and _tree(inputs) == before_in, argv
    assert not os.listdir(cwd)
