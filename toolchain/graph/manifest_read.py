"""Reading an export folder's manifest.json, checked field by field and against its graphs.

The manifest is what ``sbn sim`` and ``sbn quantize`` trust for the time steps, the payload
size and which graph is which. A hand-edited or damaged one must not change a result
silently: every field is checked for its type and range, every file it names must lie in
the folder, and (``against_graphs``) the split, T, class count and payload size must be
those of the graphs themselves. Each refusal is a ``ConfigError`` naming the file and key.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import nir

from sbn.errors import ConfigError
from sbn.fileio import read_document, shown
from sbn.graph.manifest import SCHEMA
from sbn.models.config import LIMITS

PARTS = ("full", "device", "edge")


def read_manifest(folder: str | os.PathLike, against_graphs: bool = True) -> dict[str, Any]:
    """The manifest of export ``folder``, checked; with ``against_graphs`` its graphs are
    read (``load_nir``) and must agree with it."""
    folder = Path(folder)
    path = folder / "manifest.json"
    manifest = read_document(path, SCHEMA, "an export manifest")
    _check_fields(path, manifest)
    _check_files(path, folder, manifest["files"])
    _check_quantized(path, manifest)
    if against_graphs:
        _check_graphs(path, folder, manifest)
    return manifest


def _whole(path: Path, manifest: dict, key: str, low: int, high: int) -> int:
    value = manifest.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{path}: {key} must be a whole number in {low}..{high:,}, found {value!r}")
    return value


def _shape(path: Path, manifest: dict, key: str, length: int) -> list[int]:
    value = manifest.get(key)
    if (
        not isinstance(value, list)
        or len(value) != length
        or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 2**31 for v in value)
    ):
        raise ConfigError(f"{path}: {key} must be a list of {length} positive whole numbers, found {value!r}")
    return value


def _check_fields(path: Path, manifest: dict) -> None:
    t = _whole(path, manifest, "time_steps", 1, 8)
    _whole(path, manifest, "num_classes", 2, LIMITS["num_classes"])
    _shape(path, manifest, "input_shape", 3)
    files = manifest.get("files")
    if (
        not isinstance(files, dict)
        or not files
        or set(files) - set(PARTS)
        or not all(isinstance(v, str) for v in files.values())
    ):
        raise ConfigError(f"{path}: files must map some of {', '.join(PARTS)} to file names, found {files!r}")
    split = manifest.get("split")
    if ("device" in files) != ("edge" in files):
        raise ConfigError(f"{path}: files names a device graph or an edge graph without the other")
    if split is None:
        if "device" in files:
            raise ConfigError(f"{path}: files names device and edge graphs but split is null")
        return
    if not isinstance(split, str) or not re.fullmatch(r"RB[1-9][0-9]*", split):
        raise ConfigError(f"{path}: split must be null or RBk, found {split!r}")
    payload = _shape(path, manifest, "payload_shape", 4)
    if payload[0] != t:
        raise ConfigError(f"{path}: payload_shape {payload} does not start with time_steps {t}")
    bits = manifest.get("bits_per_sample")
    if bits is not None and bits != math.prod(payload):
        raise ConfigError(
            f"{path}: bits_per_sample {bits!r} is not the product of "
            f"payload_shape {payload} ({math.prod(payload)})"
        )


def _check_files(path: Path, folder: Path, files: dict[str, str]) -> None:
    for part, name in files.items():
        if Path(name).name != name or name in (".", ".."):
            raise ConfigError(
                f"{path}: files.{part} {name!r} must be a file name in the export folder, not a path"
            )
        if not (folder / name).is_file():
            raise ConfigError(f"{path}: files.{part} names {name}, which is not in {folder}")


def _check_quantized(path: Path, manifest: dict) -> None:
    """``quantized`` (written by ``sbn quantize``): absent, or a mapping from a target's name
    (a built-in one or a target file's ``name``) to the file name of its quantisation, a
    safetensors file in the folder. Whether that file exists and fits is ``sbn sim``'s check
    (``sbn quantize`` rewrites a missing one)."""
    quantized = manifest.get("quantized")
    if quantized is None:
        return
    if not isinstance(quantized, dict):
        raise ConfigError(
            f"{path}: quantized must map target names to file names in the export folder "
            f"(e.g. {{\"loihi2\": \"device.loihi2.safetensors\"}}), found {shown(quantized)}"
        )
    for target, name in quantized.items():
        if not target.strip() or "/" in target or "\\" in target:
            raise ConfigError(
                f"{path}: quantized has the key {target!r}; keys are target names (e.g. loihi2)"
            )
        if (
            not isinstance(name, str)
            or Path(name).name != name
            or name in ("", ".", "..")
            or not name.endswith(".safetensors")
        ):
            raise ConfigError(
                f"{path}: quantized.{target} must be the name of a .safetensors file in the "
                f"export folder, not a path (e.g. device.{target}.safetensors), found {shown(name)}"
            )


def _check_graphs(path: Path, folder: Path, manifest: dict) -> None:
    from sbn.graph.io import load_nir

    t, classes, split = manifest["time_steps"], manifest["num_classes"], manifest["split"]
    for part, name in manifest["files"].items():
        graph = load_nir(folder / name)
        meta = graph.metadata or {}
        for key, expected in (("sbn.time_steps", t), ("sbn.num_classes", classes), ("sbn.split", split)):
            if key in meta and _plain(meta[key]) != expected:
                raise ConfigError(
                    f"{path}: {key[4:]} is {expected!r}, the graph {name} says {_plain(meta[key])!r}"
                )
        size = output_size(graph)
        if part == "device":
            sent = math.prod(manifest["payload_shape"][1:])
            if size is not None and size != sent:
                raise ConfigError(
                    f"{path}: payload_shape {manifest['payload_shape']} sends "
                    f"{sent} values per step, {name} outputs {size}"
                )
        elif size is not None and size != classes:
            raise ConfigError(f"{path}: num_classes is {classes}, {name} outputs {size} values")


def check_checkpoint(
    manifest: dict[str, Any], checkpoint: str | os.PathLike, folder: str | os.PathLike
) -> None:
    """ConfigError unless ``checkpoint`` is the file the export was made from (by sha256)."""
    from sbn.checkpoint import file_sha256

    recorded = manifest.get("checkpoint")
    if not isinstance(recorded, dict) or not isinstance(recorded.get("sha256"), str):
        raise ConfigError(
            f"{Path(folder) / 'manifest.json'}: records no checkpoint sha256 "
            f"to compare --checkpoint {checkpoint} with"
        )
    if file_sha256(checkpoint) != recorded["sha256"]:
        raise ConfigError(
            f"--checkpoint {checkpoint} is not the model {folder} was exported from (that was "
            f"{recorded.get('file')!r}, sha256 {recorded['sha256'][:12]}...); give that "
            f"checkpoint, or leave --checkpoint out"
        )


def output_size(graph: nir.NIRGraph) -> int | None:
    """Values per sample and step of a graph's one Output node (None: not stated, or several
    outputs)."""
    outputs = [n for n in graph.nodes.values() if isinstance(n, nir.Output)]
    if len(outputs) != 1:
        return None
    shape = (outputs[0].input_type or {}).get("input")
    if shape is None or len(shape) == 0:
        return None
    return math.prod(int(d) for d in shape)


def _plain(value: Any) -> Any:
    """A metadata value as JSON would hold it (h5py returns numpy scalars and bytes)."""
    if hasattr(value, "item"):
        value = value.item()
    return value.decode() if isinstance(value, bytes) else value
