"""The CLI's side of ``sbn.outputs``: claim a command's outputs for as long as it runs."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

#: characters of the command line recorded in a lock (enough to recognise the run)
_COMMAND_CHARS = 300


def own_outputs(outputs: dict[str, Any], inputs: Iterable[Any] = ()) -> None:
    """Claim ``outputs`` (option -> path) against ``inputs`` until the running command ends
    (click closes the context on success, error and Ctrl-C alike)."""
    from sbn.outputs import claim_outputs

    ctx = click.get_current_context()
    ctx.with_resource(claim_outputs(outputs, inputs, command=_command_line(ctx)))


def export_files(folder: Any, keep: Any = None) -> list[Path]:
    """Every file an ``sbn export`` folder is made of (its manifest, the graphs and the
    quantised files it names), as inputs no output may overwrite; ``keep`` is one that may be
    rewritten (``sbn quantize`` updates its own target's file in place). Nothing for a
    path that is not an export folder; read leniently (the manifest's own checks come after)."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not folder.is_dir() or not manifest_path.is_file():
        return []
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    named = []
    for key in ("files", "quantized"):
        entries = manifest.get(key) if isinstance(manifest, dict) else None
        if isinstance(entries, dict):
            named += [folder / name for name in entries.values() if isinstance(name, str)]
    keep = None if keep is None else Path(keep).resolve()
    return [manifest_path, *(path for path in named if path.resolve() != keep)]


def _command_line(ctx: click.Context) -> str:
    line = " ".join([ctx.command_path, *map(shlex.quote, _own_arguments(ctx))])
    return line if len(line) <= _COMMAND_CHARS else line[: _COMMAND_CHARS - 3] + "..."


def _own_arguments(ctx: click.Context) -> list[str]:
    """The arguments after the subcommand's name when this process is ``sbn`` itself."""
    name = ctx.info_name or ""
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1 :] if name in argv else argv
