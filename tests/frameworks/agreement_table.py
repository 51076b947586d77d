"""Print the agreement table of docs/mapper.md section 9 (not a test): every framework case
of the tier, exported by the framework itself, imported with its preset and with the wrong
reading beside it.

    FLEXSPIM_FRAMEWORK_PYTHON=.venv-frameworks/bin/python \\
    FLEXSPIM_SINABS_PYTHON=.venv-sinabs/bin/python \\
    .venv/bin/python tests/frameworks/agreement_table.py
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fw_agree import agreement, export  # noqa: E402

from flexspim.frontend.nir_import import import_nir  # noqa: E402

FW = os.environ["FLEXSPIM_FRAMEWORK_PYTHON"]
SI = os.environ["FLEXSPIM_SINABS_PYTHON"]
# (label, python, script, argument, preset options, wrong reading)
CASES = [
    ("snnTorch Leaky, reset zero", FW, "snntorch_export.py", "zero",
     {"preset": "snntorch", "reset": "hard"}, None),
    ("snnTorch Leaky, subtract", FW, "snntorch_export.py", "subtract",
     {"preset": "snntorch"}, ("hard reset", {"preset": "snntorch", "reset": "hard"})),
    ("snnTorch Leaky, beta = 1 (tau = inf)", FW, "snntorch_export.py", "subtract beta1",
     {"preset": "snntorch"}, None),
    ("snnTorch Synaptic, alpha = 0 (CubaLIF)", FW, "snntorch_export.py", "subtract synaptic",
     {"preset": "snntorch"}, None),
    ("Norse LIFBoxCell", FW, "norse_export.py", "lifbox", {"preset": "norse"}, None),
    ("Norse IAFCell", FW, "norse_export.py", "iaf", {"preset": "norse"},
     ("soft reset", {"preset": "norse", "reset": "soft"})),
    ("Sinabs IAF, SingleSpike", SI, "sinabs_export.py", "iaf-single", {"preset": "sinabs"},
     ("hard reset", {"preset": "sinabs", "reset": "hard"})),
    ("Sinabs IAF, MultiSpike", SI, "sinabs_export.py", "iaf-multi", {"preset": "sinabs"},
     ("hard reset", {"preset": "sinabs", "reset": "hard"})),
    ("Sinabs LIF, SingleSpike", SI, "sinabs_export.py", "lif", {"preset": "sinabs"},
     ("euler", {"preset": "sinabs", "discretization": "euler"})),
]

print("| framework, neuron | float | integer | wrong reading: float / integer |")
print("|---|---|---|---|")
for label, py, script, arg, opts, wrong in CASES:
    with tempfile.TemporaryDirectory() as tmp:
        g, evs, s1, s2 = export(py, script, Path(tmp), *arg.split())
        f, q = agreement(import_nir(g, bw=8, bv=16, **opts), evs, s1, s2)
        w = ""
        if wrong:
            wf, wq = agreement(import_nir(g, bw=8, bv=16, **wrong[1]), evs, s1, s2)
            w = f"{wrong[0]}: {wf:.2%} / {wq:.2%}"
        print(f"| {label} | {f:.2%} | {q:.2%} | {w} |", flush=True)
