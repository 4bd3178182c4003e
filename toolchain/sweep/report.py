"""The per-split table of a sweep summary as text: JSON, CSV, markdown (the terminal
table is drawn by the CLI from the same columns)."""

from __future__ import annotations

import json
from typing import Any

from sbn.energy.tables import csv_text, markdown_table
from sbn.sweep.summary import SUMMARY_SCHEMA
from sbn.sweep.trial import SNN_PRESETS

#: (summary row key, column title): the columns of the CSV/markdown/terminal tables
COLUMNS = (
    ("split", "split"),
    ("time_steps", "T"),
    ("channels", "C'"),
    ("stride", "stride"),
    ("transmitted_bits", "bits"),
    ("baseline_bits", "BottleNet++ bits"),
    ("reduction_vs_bottlenetpp_pct", "reduction vs BottleNet++ %"),
    ("accuracy", "accuracy"),
    ("accuracy_drop_pct", "accuracy drop pp"),
    ("status", "budget"),
    *((f"device_energy_{p}_mj", f"device {p} mJ") for p in SNN_PRESETS),
    ("trial", "trial"),
    ("pareto", "pareto"),
    ("chosen", "chosen"),
)


def cells(row: dict[str, Any]) -> list[Any]:
    """One row's cells, the same in every format: flags as ``yes`` or empty; the drop and
    the budgets in percentage points (pp: a difference of accuracies, not a ratio)."""
    values = dict(row)
    drop = row.get("accuracy_drop")
    values["accuracy_drop_pct"] = None if drop is None else 100.0 * drop
    if row.get("status") == "relaxed":
        values["status"] = f"relaxed to {row['budget_used_pct']:g} pp"
    elif row.get("budget_used_pct") is not None:
        values["status"] = f"within {row['budget_used_pct']:g} pp"
    elif row.get("over_budget"):
        values["status"] = "over budget"  # the closest trial (see chosen_line)
    for key in ("pareto", "chosen"):
        values[key] = "yes" if row.get(key) else ""
    return [values.get(key) for key, _ in COLUMNS]


def render(summary: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(summary, indent=2) + "\n"
    header = [title for _, title in COLUMNS]
    rows = [cells(r) for r in summary["rows"]]
    if fmt == "csv":
        return csv_text(f"{SUMMARY_SCHEMA}; produced by {summary['producer']}", header, rows)
    if fmt == "md":
        return (
            f"<!-- {SUMMARY_SCHEMA}; produced by {summary['producer']} -->\n\n"
            + markdown_table(header, rows, missing="-")
            + "\n"
            + chosen_line(summary)
            + "\n"
        )
    raise ValueError(f"unknown format {fmt!r}")


def chosen_line(summary: dict[str, Any]) -> str:
    chosen = summary["chosen"]
    sel = summary["selection"]
    if chosen is None:
        return (
            "No split point has a configuration within the relaxed budget of "
            f"{sel['relaxed_budget_pct']:g} points: nothing chosen"
            + ("; the rows show each split's closest trial, over budget." if _any_over(summary) else ".")
        )
    how = "least device energy" if sel["objective"] == "energy" else "fewest transmitted bits"
    return f"Chosen ({how}): {chosen['split']}, trial {chosen['trial']} -> {chosen['checkpoint']}."


def _any_over(summary: dict[str, Any]) -> bool:
    return any(r.get("over_budget") for r in summary["rows"])
