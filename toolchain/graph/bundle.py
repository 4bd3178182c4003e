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
from sbn.fileio import atomic_dir
from sbn.graph.export import export_nir
from sbn.graph.io import save_nir
from sbn.graph.manifest import SCHEMA, build_manifest
from sbn.graph.partition import partition, split_points
from sbn.graph.portable import check_profile, to_portable
from sbn.models import parse_split, split_label


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike,
                      split: str | None = None, profile: str = "sbn") -> dict[str, Any]:
    """Export ``checkpoint`` into folder ``out``; returns the manifest.

    A SpikeBottleNet checkpoint is cut at its encoder LIF; a backbone is cut only when
    ``split`` ("RBk") names a block. ``profile``: "sbn" (exact, dt = 1) or "portable"
    (the form other frameworks' NIR loaders run, ``sbn.graph.portable``).
    """
    checkpoint, out = Path(checkpoint), Path(out)
    check_profile(profile)
    _check_out(out)
    ckpt = ckpt_io.load(checkpoint)
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
    manifest = build_manifest(config, checkpoint.name, ckpt_io.file_sha256(checkpoint), files,
                              block, cut, profile, node_metadata)
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
    """Refuse to replace a folder that is not an earlier export (it would be deleted)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    if not any(out.iterdir()):
        return
    manifest = out / "manifest.json"
    try:
        earlier = json.loads(manifest.read_text()).get("schema") == SCHEMA
    except (OSError, ValueError, AttributeError):
        earlier = False
    if not earlier:
        raise ConfigError(
            f"--out {out} exists and is not an sbn export folder; choose a new or empty folder"
        )
