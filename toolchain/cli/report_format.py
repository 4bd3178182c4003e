"""The format of a report that is a table or JSON (``sbn sim``, ``sbn channel``, ``sbn map``),
chosen as ``report_output.choose_format`` chooses it for ``sbn energy``/``bits``/``sweep``:
``--format`` as given, else the ``--out`` suffix; a file is never a table."""

from __future__ import annotations

from pathlib import Path

import click

from sbn.errors import ConfigError

#: suffixes of files that are something else than a JSON report: a report written there
#: would be read as the wrong kind of file
_OTHER_KINDS = {
    ".csv": "CSV",
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".npz": "numpy",
    ".npy": "numpy",
    ".nir": "NIR",
}


def table_or_json(fmt: str | None, out: Path | None) -> str:
    """ "table" or "json"; a one-line ConfigError, before any work, for a file that cannot
    hold the report (a table, an unknown suffix without --format, a contradicting suffix)."""
    if out is None:
        return fmt or "table"
    suffix = out.suffix.lower()
    if suffix in _OTHER_KINDS:
        raise ConfigError(
            f"--out {out}: the report is JSON, not a {_OTHER_KINDS[suffix]} file; name it *.json"
        )
    if fmt == "table":
        raise ConfigError(f"--out {out}: --format table is for the terminal; a file gets --format json")
    if fmt is None and suffix != ".json":
        raise ConfigError(
            f"--out {out}: cannot tell the format from the suffix; name it *.json or add --format json"
        )
    return "json"


def table_or_json_option(help_text: str = "Report format") -> click.decorators.FC:
    """``--format table|json``, its default left to ``table_or_json`` (the --out suffix)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default=None,
        help=f"{help_text} [table; json with --out *.json].",
    )
