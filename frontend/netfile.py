"""The network description format: one TOML file (structure and settings) plus one ``.npz``
file (the integer arrays).

Example (``net.toml``; the arrays live in ``net.npz`` beside it)::

    format = "flexspim-network"
    version = 1
    name = "tiny"
    arrays = "net.npz"          # relative to the TOML file

    [[layers]]
    name = "conv1"
    type = "conv"               # "conv" or "fc"
    in_shape = [2, 16, 16]      # conv only: (c_in, H, W)
    stride = [2, 2]             # conv only, default [1, 1]; an int is accepted too
    padding = [1, 1]            # conv only, default [0, 0] (zeros, both sides)
    dilation = [1, 1]           # conv only, default [1, 1]
    bw = 4                      # every other key is a LayerConfig field
    bv = 12
    saturate = true
    leak_mode = "shift"
    leak = 3
    threshold = 20
    threshold_source = "register"
    reset = "hard"

    [[layers]]
    name = "fc"
    type = "fc"
    bw = 4
    bv = 12
    threshold = 10

Arrays in the ``.npz``: ``<name>.weights`` for every layer (``(n_out, n_in)`` for "fc",
``(c_out, c_in, kh, kw)`` for "conv"), and ``<name>.thresholds`` (``(n_out,)``) for layers
with ``threshold_source = "array"``. Weights and thresholds are stored as ``int64``; they
must already be integers in range (the file is the integer network, not a float model).
Layer names must be unique (they key the arrays).
"""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import numpy as np

from flexspim.config import LayerConfig
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network

__all__ = ["FORMAT", "VERSION", "save_network", "load_network", "layer_names",
           "import_settings"]

FORMAT = "flexspim-network"
VERSION = 1
_CONV_KEYS = ("in_shape", "stride", "padding", "dilation")


def layer_names(network: Network) -> list[str]:
    """The layers' names, ``layer<i>`` where a layer has none."""
    return [layer.name or f"layer{i}" for i, layer in enumerate(network.layers)]


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ValueError(f"cannot write {v!r} to TOML")


def save_network(network: Network, path, name: str = "", extra: str = "") -> Path:
    """Write ``network`` as ``path`` (TOML) plus the ``.npz`` of the same stem beside it.
    ``extra``: TOML text appended as is (the ``[import]`` table of a NIR import).

    Returns the path of the ``.npz``. Raises `ValueError` on duplicate layer names.
    """
    path = Path(path)
    npz = path.with_suffix(".npz")
    names = layer_names(network)
    if len(set(names)) != len(names):
        raise ValueError(f"layer names must be unique to key the arrays, not {names}")
    lines = [f'format = "{FORMAT}"', f"version = {VERSION}", f"name = {_toml_value(name)}",
             f"arrays = {_toml_value(npz.name)}"]
    arrays = {}
    for lname, layer in zip(names, network.layers):
        lines += ["", "[[layers]]", f"name = {_toml_value(lname)}"]
        if isinstance(layer, ConvLayer):
            lines.append('type = "conv"')
            for k in _CONV_KEYS:
                lines.append(f"{k} = {_toml_value(getattr(layer, k))}")
        else:
            lines.append('type = "fc"')
        for k, v in layer.config.to_dict().items():
            lines.append(f"{k} = {_toml_value(v)}")
        arrays[f"{lname}.weights"] = layer.weights
        if layer.thresholds is not None:
            arrays[f"{lname}.thresholds"] = layer.thresholds
    path.write_text("\n".join(lines) + "\n" + extra)
    np.savez(npz, **arrays)
    return npz


def _npz(npz_path: Path) -> dict:
    """The arrays of an ``.npz``; every way of failing is a ValueError naming the file."""
    try:
        data = np.load(npz_path, allow_pickle=False)
    except OSError as e:
        raise ValueError(f"cannot read the arrays {npz_path}: "
                         f"{e.strerror or e}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"the arrays {npz_path} are not a valid .npz file "
                         f"(np.savez output): {e}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"the arrays {npz_path} are not an .npz archive (a single .npy "
                         f"array?); write them with np.savez")
    try:
        with data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"the arrays {npz_path} are not a valid .npz file "
                         f"(np.savez output): {e}") from None


def _int_list(path, layer: str, key: str, value, n: int | None) -> list[int] | int:
    """A TOML integer or list of integers (``n`` of them when given)."""
    ok_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    if n is None and ok_int(value):
        return value
    if isinstance(value, list) and all(ok_int(v) for v in value) \
            and (n is None or len(value) == n):
        return value
    want = f"a list of {n} integers" if n == 3 else "an integer or a list [y, x] of integers"
    raise ValueError(f"network file {path}, layer {layer!r}: `{key}` must be {want}, "
                     f"not {value!r}")


def load_network(path) -> Network:
    """Read a network written by `save_network` (or by hand, see the module docstring).

    Every TOML value is type-checked before use.

    Raises:
        ValueError: unreadable or malformed files (TOML or ``.npz``), a wrong
            ``format``/``version``, a value of the wrong type, an unknown layer ``type`` or
            key, a missing array, or any check of the layer classes.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ValueError(f"cannot read network file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"network file {path} is not valid TOML: {e}") from None
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise ValueError(f"network file {path}: `format` must be {FORMAT!r} and `version` "
                         f"{VERSION}, not {doc.get('format')!r} / {doc.get('version')!r}")
    for key in ("name", "arrays"):
        if key in doc and not isinstance(doc[key], str):
            raise ValueError(f"network file {path}: `{key}` must be a string, "
                             f"not {doc[key]!r}")
    unknown = sorted(set(doc) - {"format", "version", "name", "arrays", "layers", "import"})
    if unknown:
        raise ValueError(f"network file {path}: unknown top-level key(s) "
                         f"{', '.join(unknown)}; allowed: arrays, format, import, layers, "
                         f"name, version")
    specs = doc.get("layers", [])
    if not isinstance(specs, list) or not specs or \
            not all(isinstance(s, dict) for s in specs):
        raise ValueError(f"network file {path} must have at least one [[layers]] table "
                         f"(`layers` must be an array of tables, not {specs!r})")
    names = [s.get("name", f"layer{i}") for i, s in enumerate(specs)]
    for i, n in enumerate(names):
        if not isinstance(n, str) or not n:
            raise ValueError(f"network file {path}, layer {i}: `name` must be a non-empty "
                             f"string, not {n!r}")
        if n in names[:i]:
            raise ValueError(f"network file {path}: layer name {n!r} is used by layers "
                             f"{names.index(n)} and {i}; names must be unique (they key the "
                             f"arrays and the outputs)")
    npz_path = path.parent / doc.get("arrays", path.with_suffix(".npz").name)
    arrays = _npz(npz_path)
    layers = []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        name = spec.pop("name", f"layer{i}")
        if not isinstance(name, str):
            raise ValueError(f"network file {path}, layer {i}: `name` must be a string, "
                             f"not {name!r}")
        kind = spec.pop("type", None)
        if kind not in ("fc", "conv"):
            raise ValueError(f"layer {name!r}: `type` must be one of fc, conv; not {kind!r}")
        geom = {k: spec.pop(k) for k in _CONV_KEYS if k in spec}
        if kind == "fc" and geom:
            raise ValueError(f"layer {name!r}: {', '.join(geom)} only apply to conv layers")
        for k, v in geom.items():
            geom[k] = _int_list(path, name, k, v, 3 if k == "in_shape" else None)
        cfg = LayerConfig.from_dict(spec)
        key = f"{name}.weights"
        if key not in arrays:
            raise ValueError(f"layer {name!r}: array {key!r} missing from {npz_path}")
        th = arrays.get(f"{name}.thresholds")
        if kind == "conv":
            if "in_shape" not in geom:
                raise ValueError(f"layer {name!r}: conv layers need `in_shape` = [c, H, W]")
            layers.append(ConvLayer(arrays[key], tuple(geom.pop("in_shape")), cfg,
                                    thresholds=th, name=name, **geom))
        else:
            layers.append(FCLayer(arrays[key], cfg, th, name=name))
    used = {f"{n}.{k}" for n in names for k in ("weights", "thresholds")}
    extra = sorted(set(arrays) - used)
    if extra:     # a misspelled layer name would otherwise leave its arrays unused
        raise ValueError(f"{npz_path}: array {extra[0]!r} belongs to no layer (layers: "
                         f"{', '.join(names)}); arrays are <layer>.weights and "
                         f"<layer>.thresholds")
    return Network(layers)


def import_settings(path) -> dict:
    """The ``[import]`` table of a network file (what a NIR import chose: preset, dt, leak
    order, reset, bias scheme, per-layer scale and decay; see
    `flexspim.frontend.nir_import`), or ``{}`` for a network written without one."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f).get("import", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    if not isinstance(table, dict):
        raise ValueError(f"network file {path}: `import` must be a table, not {table!r}")
    return table
