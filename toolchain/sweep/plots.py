"""Sweep figure: transmitted bits and accuracy drop of each split point's choice."""

from __future__ import annotations

import math
import os
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sbn.energy.plots import plot_format
from sbn.fileio import atomic_path


def plot_sweep(summary: dict[str, Any], path: str | os.PathLike) -> None:
    """Two panels over the split points: bits (log; SpikeBottleNet and BottleNet++ at the
    same C' and stride) and accuracy drop (points, with the budgets). A split point's choice
    is a dot, the chosen one ringed; where nothing qualified, its closest trial is a cross
    (over budget); split points without a finished trial are gaps. A sweep with no choice
    says so in the title."""
    fmt = plot_format(path)
    rows = summary["rows"]
    labels = [r["split"] for r in rows]
    x = list(range(len(rows)))

    def values(key: str, scale: float = 1.0, over: bool | None = None) -> list[float]:
        """``key`` per row; with ``over`` only the rows (not) over budget, NaN elsewhere."""
        return [
            math.nan
            if r[key] is None or (over is not None and bool(r.get("over_budget")) != over)
            else r[key] * scale
            for r in rows
        ]

    def curve(ax, ys: list[float], **style) -> None:
        if any(not math.isnan(y) for y in ys):  # no legend entry for a curve with no point
            ax.plot(x, ys, **style)

    sel = summary["selection"]
    relaxed = sel["relaxed_budget_pct"]
    over = "closest trial, over budget"
    fig, (bits_ax, drop_ax) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    try:
        curve(
            bits_ax,
            values("transmitted_bits", over=False),
            marker="o",
            label="SpikeBottleNet (chosen per split)",
        )
        curve(
            bits_ax,
            values("transmitted_bits", over=True),
            marker="x",
            markersize=9,
            linestyle="none",
            color="tab:red",
            label=f"SpikeBottleNet, {over}",
        )
        curve(
            bits_ax,
            values("baseline_bits"),
            marker="s",
            linestyle="--",
            label="BottleNet++ at the same C' and stride (8 bits)",
        )
        if bits_ax.lines:
            bits_ax.set_yscale("log")
        else:
            bits_ax.text(0.5, 0.5, "no finished trial", ha="center", va="center", transform=bits_ax.transAxes)
        bits_ax.set_ylabel("transmitted bits per sample")
        curve(
            drop_ax,
            values("accuracy_drop", 100.0, over=False),
            marker="o",
            color="tab:red",
            label="accuracy drop",
        )
        curve(
            drop_ax,
            values("accuracy_drop", 100.0, over=True),
            marker="x",
            markersize=9,
            linestyle="none",
            color="tab:red",
            label=f"accuracy drop, {over}",
        )
        drop_ax.axhline(
            sel["budget_pct"], color="grey", linestyle=":", label=f"budget {sel['budget_pct']:g} points"
        )
        drop_ax.axhline(relaxed, color="grey", linestyle="--", label=f"relaxed budget {relaxed:g} points")
        drop_ax.set_ylabel("accuracy drop vs backbone [points]")
        drop_ax.set_xlabel("split point")
        drop_ax.set_xticks(x, labels)
        for i, r in enumerate(rows):
            if r["chosen"]:
                bits_ax.plot(
                    [i],
                    [r["transmitted_bits"]],
                    marker="o",
                    markersize=14,
                    markerfacecolor="none",
                    color="black",
                    linestyle="none",
                    label="chosen",
                )
        for ax in (bits_ax, drop_ax):
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        title = f"sbn sweep: choice per split point (objective {sel['objective']})"
        if summary["chosen"] is None:
            title += f"\nnothing qualified: no split point within the relaxed budget of {relaxed:g} points"
        bits_ax.set_title(title)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=120)
    finally:
        plt.close(fig)
