"""A checkpoint -> an export folder: full.nir, device.nir, edge.nir and manifest.json.

The folder is built in a temporary folder beside ``out`` and renamed into place, so ``out``
holds a complete export or nothing new; everything is checked before anything is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sbn import checkpoint as ckpt_io
from sbn.errors import ConfigError
from sbn.fileio import atomic_dir, hidden_sibling
from sbn.graph.export import export_nir
from sbn.graph.io import save_nir
from sbn.graph.manifest import SCHEMA, build_manifest
from sbn.graph.partition import partition, split_points
from sbn.graph.portable import check_profile, to_portable
from sbn.models import parse_split, split_label


def export_checkpoint(
    checkpoint: str | os.PathLike, out: str | os.PathLike, split: str | None = None, profile: str = "sbn"
) -> dict[str, Any]:
    """Export ``checkpoint`` into folder ``out``; returns the manifest.

    A SpikeBottleNet checkpoint is cut at its encoder LIF; a backbone is cut only when
    ``split`` ("RBk") names a block. ``profile``: "sbn" (exact, dt = 1) or "portable"
    (the form other frameworks' NIR loaders run, ``sbn.graph.portable``).
    """
    checkpoint, out = Path(checkpoint), Path(out)
    check_profile(profile)
    _check_out(out)
    ckpt = ckpt_io.load(checkpoint)
    ckpt.require_finite(str(checkpoint))
    config = ckpt.config
    block = _choose_split(config, split)
    graph = export_nir(ckpt.build())
    node_metadata = None
    if profile == "portable":
        graph, node_metadata = to_portable(graph)
    parts = None
    cut = None
    if block is not None:
        cut = split_points(graph)[split_label(block)]
        parts = partition(graph, cut)
    files = {"full": "full.nir"}
    if parts is not None:
        files.update(device="device.nir", edge="edge.nir")
    manifest = build_manifest(
        config, checkpoint.name, ckpt_io.file_sha256(checkpoint), files, block, cut, profile, node_metadata
    )
    with atomic_dir(out) as tmp:
        save_nir(tmp / "full.nir", graph)
        if parts is not None:
            save_nir(tmp / "device.nir", parts[0])
            save_nir(tmp / "edge.nir", parts[1])
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _ordinary_permissions(tmp)
    return manifest


def _ordinary_permissions(folder: Path) -> None:
    """Temporary files and folders are private (0600/0700); the export is not."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _choose_split(config, split: str | None) -> int | None:
    own = config.bottleneck.split if config.bottleneck is not None else None
    if split is None:
        return own
    block = parse_split(split, config.num_blocks)
    if own is not None and block != own:
        raise ConfigError(
            f"this SpikeBottleNet checkpoint is split at {split_label(own)}; --split {split} can only "
            f"name that block (other cuts are for backbone checkpoints)"
        )
    return block


def _check_out(out: Path) -> None:
    """Refuse to replace a folder holding anything an earlier export did not write: the
    folder is replaced as a whole, and what is not the export's would be lost with it."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    ours = export_file_names(out / "manifest.json")
    if ours is None:
        raise ConfigError(f"--out {out} exists and is not an sbn export folder; choose a new or empty folder")
    others = [name for name in entries if not _written_by_export(name, ours)]
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise ConfigError(
            f"--out {out} holds files an export did not write ({shown}); replacing the folder "
            f"would delete them: move them out or choose another --out"
        )


def export_file_names(manifest_path: Path) -> set[str] | None:
    """Names an earlier export (and ``sbn quantize`` after it) wrote into its folder, from
    its manifest; None when the file is not an export's manifest."""
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        return None
    names = {manifest_path.name}
    for key in ("files", "quantized"):
        listed = manifest.get(key)
        if isinstance(listed, dict):
            names |= {v for v in listed.values() if isinstance(v, str)}
    return names


def _written_by_export(name: str, ours: set[str]) -> bool:
    """One of ``ours``, or a hidden helper of one of them (a lock or temporary file)."""
    return name in ours or any(name.startswith(hidden_sibling(o, "").name) for o in ours)
