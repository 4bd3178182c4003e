"""Target lookup: built-in names, and user-defined targets from TOML or JSON files."""

from __future__ import annotations

import os
from pathlib import Path

from sbn.errors import ConfigError
from sbn.fileio import read_document, write_json
from sbn.targets.builtin import BUILTIN_TARGETS
from sbn.targets.spec import TARGET_SCHEMA, Target

_SUFFIXES = (".toml", ".json")


def known_targets() -> list[str]:
    """Names of the built-in targets, sorted."""
    return sorted(BUILTIN_TARGETS)


def get_target(name: str) -> Target:
    """The built-in target called ``name``; ConfigError listing the known names otherwise."""
    try:
        return BUILTIN_TARGETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown target {name!r}; known targets: {', '.join(known_targets())} "
            "(or give a .toml/.json target file)"
        ) from None


def load_target_file(path: str | os.PathLike) -> Target:
    """Read a user-defined target from a ``.toml`` or ``.json`` file.

    The file holds the fields of :class:`~sbn.targets.spec.Target` at top level, an
    optional ``schema = "sbn.target/1"`` (``format`` in older files) and an optional
    ``[sources]`` table. Errors name the file and the offending field.
    """
    path = Path(path)
    if path.suffix not in _SUFFIXES:
        raise ConfigError(f"{path}: a target file must end in .toml or .json")
    data = read_document(path, TARGET_SCHEMA, "a target description", version_optional=True)
    return Target.from_dict(data, origin=str(path))


def save_target_file(path: str | os.PathLike, target: Target) -> None:
    """Write ``target`` as JSON (with its format string), atomically."""
    path = Path(path)
    if path.suffix != ".json":
        raise ConfigError(f"{path}: targets are written as .json")
    write_json(path, target.to_dict())


def resolve_target(spec: str) -> Target:
    """A built-in name, or a path to a target file (recognised by its suffix)."""
    path = target_file(spec)
    return get_target(spec) if path is None else load_target_file(path)


def target_file(spec: str) -> str | None:
    """The file ``spec`` names, or None for a built-in target's name."""
    return spec if spec.endswith(_SUFFIXES) else None
