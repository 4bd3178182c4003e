"""Figures: device energy versus split point, and transmitted bits versus split point.

matplotlib with the Agg backend (no display needed); files are written atomically and
their format follows the file's suffix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sbn.energy.bits import measured_codecs
from sbn.energy.estimate import EnergyReport
from sbn.errors import ConfigError
from sbn.fileio import atomic_path
from sbn.models import Payload

PLOT_FORMATS = ("png", "pdf", "svg")


def plot_energy(report: EnergyReport, path: str | os.PathLike) -> None:
    """Cumulative device energy (mJ, log scale) per split point: the BottleNet++ baseline
    and the spiking model on every SNN preset of the report."""
    fmt = plot_format(path)
    labels = [s.split for s in report.splits]
    x = range(len(labels))
    fig, ax = plt.subplots(figsize=(9, 5))
    try:
        ax.plot(
            x,
            [s.ann_mj for s in report.splits],
            marker="s",
            label=f"BottleNet++ (ANN, {report.ann_preset.name} MAC {report.ann_preset.e_mac_pj:g} pJ)",
        )
        if report.has_rates:
            for p in report.snn_presets:
                ax.plot(
                    x,
                    [s.snn_mj[p.name] for s in report.splits],
                    marker="o",
                    label=f"SpikeBottleNet (SNN, {p.name} {p.e_syop_pj:g} pJ/SyOP)",
                )
            title = f"Device energy per split point (firing rates: {report.rates.source})"
        else:
            title = "Device energy per split point (baseline only: no firing rates given)"
        ax.set_yscale("log")
        ax.set_xticks(list(x), labels, rotation=45)
        ax.set_xlabel("split point (device runs RB1..RBk)")
        ax.set_ylabel("cumulative device energy per inference [mJ]")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        save_figure(fig, path, fmt)
    finally:
        plt.close(fig)


def plot_bits(
    payloads: Sequence[Payload],
    path: str | os.PathLike,
    measured: Mapping[str, Mapping[str, float]] | None = None,
) -> None:
    """Bits per sample (log scale) per split point: raw spiking feature, SpikeBottleNet
    payload and BottleNet++ payload at the same C' and stride; with ``measured`` (split ->
    codec -> mean bytes per sample on real payloads), one dashed curve per codec."""
    fmt = plot_format(path)
    if not payloads:
        raise ConfigError("nothing to plot: the bits table is empty")
    labels = [p.split for p in payloads]
    x = range(len(labels))
    fig, ax = plt.subplots(figsize=(12 if measured else 9, 5))
    try:
        ax.plot(x, [p.raw_bits for p in payloads], marker="^", label="raw spiking feature (C·H·W·T)")
        ax.plot(x, [p.baseline_bits for p in payloads], marker="s", label="BottleNet++ (C'·H'·W'·8)")
        ax.plot(x, [p.spiking_bits for p in payloads], marker="o", label="SpikeBottleNet (C'·H'·W'·T)")
        for codec in measured_codecs(measured):
            points = [
                (i, 8 * measured[p.split][codec])
                for i, p in enumerate(payloads)
                if codec in (measured or {}).get(p.split, {})
            ]
            ax.plot(
                [i for i, _ in points],
                [b for _, b in points],
                linestyle="--",
                marker="x",
                label=f"measured: {codec} (8 x bytes)",
            )
        ax.set_yscale("log")
        ax.set_xticks(list(x), labels, rotation=45)
        ax.set_xlabel("split point")
        ax.set_ylabel("transmitted size per sample [bits]")
        ax.set_title("Transmitted bits per split point")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(
            **({"loc": "upper left", "bbox_to_anchor": (1.01, 1)} if measured else {})
        )  # beside the curves
        fig.tight_layout()
        save_figure(fig, path, fmt)
    finally:
        plt.close(fig)


def plot_format(path: str | os.PathLike) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ConfigError(
            f"{path}: cannot tell the plot format; end the file name in "
            + ", ".join(f".{f}" for f in PLOT_FORMATS)
        )
    return fmt


def save_figure(fig, path: str | os.PathLike, fmt: str) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
