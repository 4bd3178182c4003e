"""The accuracy-versus-error-rate figure of ``sbn channel``: one panel per channel kind
(bit errors, packet loss, bursts), one curve per codec, the clean accuracy as a line."""

from __future__ import annotations

import os
from typing import Any

from sbn.energy.plots import plot_format, plt, save_figure
from sbn.errors import ConfigError


def plot_noise_curves(report: dict[str, Any], path: str | os.PathLike) -> None:
    fmt = plot_format(path)
    kinds = list(dict.fromkeys(c["kind"] for c in report["channels"] if c["kind"] != "none"))
    if not kinds:
        raise ConfigError("nothing to plot: give at least one noisy --channel")
    rate = {c["spec"]: c for c in report["channels"]}
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4.5), squeeze=False)
    try:
        for ax, kind in zip(axes[0], kinds):
            for codec in report["codecs"]:
                points = sorted(
                    (rate[r["channel"]]["error_rate"], r["accuracy"])
                    for r in report["results"]
                    if r["codec"] == codec and rate[r["channel"]]["kind"] == kind
                )
                ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=codec)
            ax.axhline(report["clean_accuracy"], color="grey", linestyle="--", label="no noise")
            if all(rate[s]["error_rate"] > 0 for s in rate if rate[s]["kind"] == kind):
                ax.set_xscale("log")
            measure = next(c["measure"] for c in report["channels"] if c["kind"] == kind)
            ax.set_xlabel(f"{measure} ({kind})")
            ax.set_ylabel("accuracy")
            ax.set_ylim(0, 1.02)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize="small")
        fig.suptitle(
            f"Accuracy through a noisy link ({report['samples']} samples, payload "
            f"{'x'.join(map(str, report['payload_shape']))}, firing "
            f"{report['payload_firing_rate']:.3f})"
        )
        fig.tight_layout()
        save_figure(fig, path, fmt)
    finally:
        plt.close(fig)
