"""The CLI's side of ``sbn.outputs``: claim a command's outputs for as long as it runs."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
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


def _command_line(ctx: click.Context) -> str:
    line = " ".join([ctx.command_path, *map(shlex.quote, _own_arguments(ctx))])
    return line if len(line) <= _COMMAND_CHARS else line[: _COMMAND_CHARS - 3] + "..."


def _own_arguments(ctx: click.Context) -> list[str]:
    """The arguments after the subcommand's name when this process is ``sbn`` itself."""
    name = ctx.info_name or ""
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1 :] if name in argv else argv
