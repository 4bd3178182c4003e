"""Where a report goes: a rich table on the terminal, or text in a format, to stdout or
``--out`` (written atomically). Shared by ``sbn energy`` and ``sbn bits``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from sbn.errors import ConfigError
from sbn.fileio import write_text

FORMATS = ("table", "json", "csv", "md")
_SUFFIXES = {".json": "json", ".csv": "csv", ".md": "md", ".markdown": "md"}


def choose_format(fmt: str | None, out: Path | None) -> str:
    """``--format`` as given; else the ``--out`` suffix; else a table on the terminal."""
    if out is None:
        return fmt or "table"
    if fmt is None:
        try:
            return _SUFFIXES[out.suffix.lower()]
        except KeyError:
            raise ConfigError(
                f"{out}: cannot tell the format from the suffix; add --format json, csv or md"
            ) from None
    if fmt == "table":
        raise ConfigError("--out writes a file: choose --format json, csv or md")
    return fmt


def emit(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=False)
    else:
        write_text(out, text)
        click.echo(f"wrote {out}", err=True)


def console() -> Console:
    """stdout console; wide enough for the tables when stdout is not a terminal."""
    c = Console()
    if not c.is_terminal:
        c = Console(width=180)
    return c


def note(message: str) -> None:
    """A one-line remark on stderr (never mixed into machine-readable stdout)."""
    click.echo(message, err=True)
