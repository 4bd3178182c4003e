"""Where a report goes: a rich table on the terminal, or text in a format, to stdout or
``--out`` (written atomically). Shared by ``sbn energy``, ``sbn bits``, ``sbn channel`` and
``sbn sweep --report``.

A report may replace only an earlier report (``refuse_replacing``): ``--out`` pointed at a
checkpoint or an export's manifest by a slip must not turn it into a table. Data a command
writes beside its report (``sim --rates-out``, ``energy --save-rates``, ``channel
--payloads-out``) follows the same rule for its own kind (``RATES``, ``PAYLOAD_BYTES``).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
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


#: what sbn writes as reports (a JSON report's ``schema`` before the version, the first line
#: of a CSV or markdown one): an earlier report of any kind may be replaced by a new one
REPORT_KINDS = frozenset(
    {
        "sbn.bits",
        "sbn.channel",
        "sbn.demo",
        "sbn.energy",
        "sbn.energy-graph",
        "sbn.map",
        "sbn.quantize",
        "sbn.sim",
        "sbn.sim-fixed",
        "sbn.sim-graph",
        "sbn.sweep",
    }
)
#: the provenance line a CSV (``# sbn.bits/2; ...``) or markdown (``<!-- ...``) report opens with
_TEXT_REPORT = re.compile(r"(?:#|<!--)\s*(sbn\.[a-z0-9-]+)/\d+")
#: a rule of a table as rich prints it (``--format table`` of sim, map, channel)
_TABLE_RULE = re.compile(r"^\s*[\u2500-\u257f]{3,}\s*$", re.MULTILINE)
#: bytes read to tell text from binary (a checkpoint is gigabytes; its first bytes say enough)
_HEAD_BYTES = 4096


@dataclass(frozen=True)
class Replaceable:
    """What an output may replace: a file whose JSON ``schema`` (before the version) is one of
    ``kinds``; with ``text``, also CSV, markdown and table forms of such a file."""

    noun: str
    kinds: frozenset[str]
    text: bool = False


REPORTS = Replaceable("a report", REPORT_KINDS, text=True)
RATES = Replaceable("a rates file", frozenset({"sbn.firing-rates"}))
PAYLOAD_BYTES = Replaceable("a payload-bytes file", frozenset({"sbn.payload-bytes"}))


def refuse_replacing(out: Path | None, flag: str | None = None, kind: Replaceable = REPORTS) -> None:
    """ConfigError unless ``out`` is new or holds an earlier file of ``kind``: a report (or
    rates, or payload bytes) never replaces a file of an ``sbn export`` folder, a
    checkpoint, a graph or any other data. Commands call it with their option name before
    any work; ``emit`` calls it again."""
    if out is None or not out.exists():
        return
    from sbn.cli.outputs import export_files
    from sbn.fileio import same_file_key

    where = f"{flag} {out}" if flag else str(out)
    if same_file_key(out) in {same_file_key(f) for f in export_files(out.parent)}:
        raise ConfigError(
            f"{where}: a file of the export folder {out.parent}; {kind.noun} never replaces it "
            "(the export would break): choose another file"
        )
    what = _other_contents(out, kind)
    if what is not None:
        raise ConfigError(
            f"{where} exists and holds {what}; {kind.noun} replaces only an earlier sbn "
            f"{kind.noun.split(' ', 1)[1]}: choose another file"
        )


def _other_contents(path: Path, kind: Replaceable) -> str | None:
    """What ``path`` holds when that is not a file of ``kind`` (None: one, or empty)."""
    if path.is_dir():
        return "a folder"
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return None  # unreadable: writing it fails with its own one-line error
    try:  # final=False: a character cut at the end of the head is no reason to refuse
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is None or "\0" in text:
        return "binary data (a checkpoint, graph, array or image?)"
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        return None
    other = f"text that is not {kind.noun}"
    if text.startswith(("{", "[")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return other
        schema = data.get("schema") if isinstance(data, dict) else None
        if isinstance(schema, str) and schema.split("/")[0] in kind.kinds:
            return None
        return f"JSON data of schema {schema!r}" if schema else f"JSON data that is not {kind.noun}"
    if kind.text:
        line = _TEXT_REPORT.match(text)
        if (line and line.group(1) in kind.kinds) or _TABLE_RULE.search(text):
            return None
    return other


def emit(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=False)
    else:
        refuse_replacing(out)  # the last guard (commands check before their work)
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
