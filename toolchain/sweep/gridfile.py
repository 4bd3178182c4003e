"""Sweep files (TOML, or the same structure as JSON): the grid and settings of a sweep,
so that a long search is written down once and rerun exactly.

    schema = "sbn.sweep-grid/1"
    backbone = "runs/backbone.safetensors"   # relative to this file's folder
    splits = ["RB1", "RB7", "RB16"]          # or "all"
    channels = [8, 16, 32]
    strides = [1, 2]                         # > 1 only at the last block unless
    T = [2, 4]                               #   strides_everywhere = true
    [train]                                  # sbn train's options, same names
    epochs = 10
    [selection]
    budget = 3.0

Every key is optional; command-line options override the file. Unknown keys are refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sbn.errors import ConfigError
from sbn.fileio import check_version, read_document

GRID_SCHEMA = "sbn.sweep-grid/1"
TOP_KEYS = {
    "backbone",
    "splits",
    "channels",
    "strides",
    "T",
    "time_steps",
    "strides_everywhere",
    "kernel_size",
    "rates_samples",
}
TRAIN_KEYS = {
    "dataset",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "seed",
    "augment",
    "train_samples",
    "test_samples",
    "precision",
}
SELECTION_KEYS = {"budget", "relaxed_budget", "objective", "preset"}


def load_grid_file(path: str | os.PathLike) -> dict[str, Any]:
    """The file's values as one flat mapping of option names (``time_steps`` for T)."""
    path = Path(path)
    if path.suffix.lower() not in (".toml", ".json"):
        raise ConfigError(f"{path}: a sweep file ends in .toml or .json")
    return parse_grid(read_document(path, GRID_SCHEMA, "a sweep file"), where=str(path), base=path.parent)


def parse_grid(data: Any, where: str = "sweep file", base: Path | None = None) -> dict[str, Any]:
    check_version(data, GRID_SCHEMA, where, "a sweep file")
    sections = {"train": TRAIN_KEYS, "selection": SELECTION_KEYS}
    unknown = set(data) - TOP_KEYS - set(sections) - {"schema"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {sorted(unknown)[0]!r} (known: "
            f"{', '.join(sorted(TOP_KEYS | set(sections)))})"
        )
    if "T" in data and "time_steps" in data:
        raise ConfigError(f"{where}: give T or time_steps, not both")
    values = {("time_steps" if k == "T" else k): v for k, v in data.items() if k in TOP_KEYS}
    for name, keys in sections.items():
        section = data.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: [{name}] must be a table")
        bad = set(section) - keys
        if bad:
            raise ConfigError(
                f"{where}: [{name}] has unknown key {sorted(bad)[0]!r} (known: {', '.join(sorted(keys))})"
            )
        values.update(section)
    if "backbone" in values:
        backbone = Path(str(values["backbone"]))
        values["backbone"] = backbone if backbone.is_absolute() or base is None else base / backbone
    return values
