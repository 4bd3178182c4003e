"""Sweep figure: transmitted bits and accuracy drop of each split point's choice."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sbn.energy.plots import PLOT_FORMATS
from sbn.errors import ConfigError
from sbn.fileio import atomic_path


def plot_sweep(summary: dict[str, Any], path: str | os.PathLike) -> None:
    """Two panels over the split points: bits (log; SpikeBottleNet and BottleNet++ at the
    same C' and stride) and accuracy drop (%, with the budgets). Split points without a
    choice are gaps; the chosen one is ringed."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ConfigError(
            f"{path}: cannot tell the plot format; end the file name in "
            + ", ".join(f".{f}" for f in PLOT_FORMATS)
        )
    rows = summary["rows"]
    labels = [r["split"] for r in rows]
    x = list(range(len(rows)))

    def values(key: str, scale: float = 1.0) -> list[float]:
        return [math.nan if r[key] is None else r[key] * scale for r in rows]

    sel = summary["selection"]
    fig, (bits_ax, drop_ax) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    try:
        bits_ax.plot(x, values("transmitted_bits"), marker="o", label="SpikeBottleNet (chosen per split)")
        bits_ax.plot(
            x,
            values("baseline_bits"),
            marker="s",
            linestyle="--",
            label="BottleNet++ at the same C' and stride (8 bits)",
        )
        bits_ax.set_yscale("log")
        bits_ax.set_ylabel("transmitted bits per sample")
        drop_ax.plot(x, values("accuracy_drop", 100.0), marker="o", color="tab:red", label="accuracy drop")
        drop_ax.axhline(
            sel["budget_pct"], color="grey", linestyle=":", label=f"budget {sel['budget_pct']:g} %"
        )
        drop_ax.axhline(
            sel["relaxed_budget_pct"],
            color="grey",
            linestyle="--",
            label=f"relaxed budget {sel['relaxed_budget_pct']:g} %",
        )
        drop_ax.set_ylabel("accuracy drop vs backbone [%]")
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
            ax.legend(fontsize=8)
        bits_ax.set_title(f"sbn sweep: choice per split point (objective {sel['objective']})")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=120)
    finally:
        plt.close(fig)
