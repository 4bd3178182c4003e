"""Reading and writing NIR files, with one-line errors instead of h5py tracebacks.

save_nir(path, graph)          atomic write (nir.write's layout, made in memory, then renamed in)
load_nir(path) -> NIRGraph     GraphError for missing, corrupt, too new or unsupported files,
                               and for parameters no consumer can compute with (checks.py)
graph_differences(a, b)        what differs between two graphs (empty list: equal)
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import h5py
import nir
import numpy as np

from sbn.errors import GraphError
from sbn.fileio import atomic_path
from sbn.graph.checks import RAW_WINDOW_FIELDS, WINDOW_TYPES, check_parameters, check_raw_window_field
from sbn.graph.node_types import TYPES

#: node types a file may hold: the executor's, plus nested graphs
KNOWN_TYPES = sorted({t.__name__ for t in TYPES} | {"NIRGraph"})


def save_nir(path: str | os.PathLike, graph: nir.NIRGraph) -> None:
    """``nir.write``'s file layout, written atomically, compressing only where it pays.

    nir.write compresses every array alike: gzip on a full-width ResNet50's float64
    weights takes seconds and saves ~5 %. Here only arrays that repeat one value (neuron
    parameters, which NIR stores per neuron) are compressed; weights are stored raw.

    The file is made in memory and written in one go: HDF5 writing to a disk that fills up
    raised RuntimeErrors from h5py's object destructors, hundreds of lines, and once
    crashed the process; a plain write fails with one OSError, which ``atomic_path`` names.
    """
    image = io.BytesIO()
    with h5py.File(image, "w") as f:
        f.create_dataset("version", data=nir.version, dtype=h5py.string_dtype())
        _write_group(f.create_group("node"), graph.to_dict())
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(image.getbuffer())


def _write_group(group: h5py.Group, node: dict) -> None:
    for key, value in node.items():
        if key == "metadata":
            if value:
                _write_group(group.create_group(key), value)
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        elif isinstance(value, np.ndarray):
            constant = value.size > 64 and value.min() == value.max()
            group.create_dataset(key, data=value, dtype=value.dtype, compression="gzip" if constant else None)
        elif isinstance(value, dict):
            _write_group(group.create_group(str(key)), value)
        else:
            group.create_dataset(key, data=value)


def load_nir(path: str | os.PathLike) -> nir.NIRGraph:
    """Read a NIR file written by any NIR version up to the installed one."""
    path = Path(path)
    if not path.is_file():
        raise GraphError(f"{path}: no such NIR file")
    try:
        with h5py.File(path, "r") as f:
            version = f["version"][()] if "version" in f else None
            if "node" not in f:
                raise GraphError("not a NIR file (no 'node' group)")
            types = _node_types(f["node"], "")
    except OSError as exc:
        raise GraphError(f"{path}: not a readable NIR (HDF5) file ({_first_line(exc)})") from None
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}") from None
    except _MALFORMED as exc:  # a group where a dataset belongs, and the like
        raise GraphError(f"{path}: malformed NIR graph ({_first_line(exc)})") from None
    _check_version(path, version)
    unknown = [(name, t) for name, t in types if t not in KNOWN_TYPES]
    if unknown:
        name, t = unknown[0]
        raise GraphError(
            f"{path}: node {name!r} has type {t}, which the toolchain does not support "
            f"(supported: {', '.join(KNOWN_TYPES)})"
        )
    graph = _read(path)
    try:
        check_parameters(graph)
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}") from None
    return graph


#: what NIR's reader and h5py raise on a malformed file (NIR's type inference divides by
#: strides and indexes shapes)
_MALFORMED = (KeyError, ValueError, TypeError, AssertionError, AttributeError, IndexError, ArithmeticError)


def _read(path: Path) -> nir.NIRGraph:
    failures = (OSError, *_MALFORMED)
    try:
        with _quiet_numpy():
            return nir.read(path)
    except failures as exc:
        first = exc
    try:  # older writers leave some types undefined: read without NIR's type inference
        with _quiet_numpy():
            return nir.read(path, type_check=False)
    except failures:
        raise GraphError(f"{path}: malformed NIR graph ({_first_line(first)})") from None


@contextlib.contextmanager
def _quiet_numpy():
    """NIR's reader computes on whatever the file holds: its numpy warnings are not ours
    to print (a bad value is reported as one GraphError instead)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _node_types(group: h5py.Group, prefix: str) -> list[tuple[str, str]]:
    """(node path, type name) of every node, nested graphs included."""
    if "type" not in group:
        raise GraphError(f"NIR node {prefix or '<root>'!r} has no type")
    kind = _text(group["type"][()])
    found = [(prefix or "<root>", kind)]
    if kind in WINDOW_TYPES:  # NIR's reader computes with these: check them first
        for field in RAW_WINDOW_FIELDS:
            if field in group and isinstance(group[field], h5py.Dataset):
                check_raw_window_field(prefix, field, group[field][()])
    if kind == "NIRGraph" and "nodes" in group:
        for name, child in group["nodes"].items():
            found += _node_types(child, f"{prefix}.{name}" if prefix else name)
    return found


def _check_version(path: Path, version) -> None:
    if version is None:
        raise GraphError(f"{path}: the file states no NIR version")
    text = _text(version)
    try:
        parts = tuple(int(p) for p in text.split(".")[:2])
        mine = tuple(int(p) for p in nir.version.split(".")[:2])
    except ValueError:
        raise GraphError(f"{path}: unknown NIR version {text!r}") from None
    if parts > mine:
        raise GraphError(
            f"{path}: written by NIR {text}, newer than the installed NIR {nir.version}; "
            f"this toolchain reads NIR files up to version {mine[0]}.{mine[1]}.x"
        )


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf8", "replace")
    if isinstance(value, np.ndarray):
        return _text(value.ravel()[0]) if value.size else ""
    return str(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---- comparison --------------------------------------------------------------------------
def graph_differences(a: nir.NIRGraph, b: nir.NIRGraph, prefix: str = "") -> list[str]:
    """Human-readable differences in node types, parameters, edges and metadata."""
    diffs: list[str] = []
    if set(a.nodes) != set(b.nodes):
        diffs.append(f"{prefix}nodes differ: {sorted(set(a.nodes) ^ set(b.nodes))[:5]}")
    if sorted(map(tuple, a.edges)) != sorted(map(tuple, b.edges)):
        diffs.append(f"{prefix}edges differ")
    if not _same(a.metadata or {}, b.metadata or {}):
        diffs.append(f"{prefix}graph metadata differs")
    for name in sorted(set(a.nodes) & set(b.nodes)):
        x, y = a.nodes[name], b.nodes[name]
        if type(x) is not type(y):
            diffs.append(f"{prefix}{name}: {type(x).__name__} vs {type(y).__name__}")
        elif isinstance(x, nir.NIRGraph):
            diffs += graph_differences(x, y, f"{prefix}{name}.")
        else:
            fx, fy = _fields(x), _fields(y)
            for key in sorted(set(fx) | set(fy)):
                if key not in fx or key not in fy or not _same(fx[key], fy[key]):
                    diffs.append(f"{prefix}{name}.{key} differs")
    return diffs


def _fields(node: nir.NIRNode) -> dict:
    d = dict(vars(node))
    if isinstance(node, (nir.Input, nir.Output, nir.Flatten)):
        return d  # their types are their parameters
    d.pop("input_type", None)
    d.pop("output_type", None)
    return d


def _same(x, y) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return set(x) == set(y) and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (str, bytes)) or isinstance(y, (str, bytes)):
        return _text(x) == _text(y)
    if x is None or y is None:
        return x is None and y is None
    xa, ya = np.asarray(x), np.asarray(y)
    return xa.shape == ya.shape and bool(np.array_equal(xa, ya))
