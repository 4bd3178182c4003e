"""Plain-text renderings shared by the energy and bits reports: CSV and markdown tables.

Both take a header (column names) and rows of already-chosen values; ``None`` is a cell
with no value (CSV: empty; markdown: the caller's ``missing`` text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any


def fmt_number(value: Any, digits: int = 4) -> str:
    """Integers in full with thousands separators, floats to ``digits`` significant digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def csv_text(comment: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV with one leading ``# comment`` line (format version and producer); floats are
    written with full precision (``repr``) so that nothing is lost."""
    buf = io.StringIO()
    buf.write(f"# {comment}\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    return buf.getvalue()


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], missing: str = "n/a") -> str:
    """A GitHub-flavoured markdown table; numbers right-aligned."""
    cells = [[missing if v is None else fmt_number(v) for v in row] for row in rows]
    numeric = [
        all(row[i] is None or isinstance(row[i], (int, float)) for row in rows) for i in range(len(header))
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines) + "\n"
