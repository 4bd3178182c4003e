"""Accuracy through a noisy link, with and without fine-tuning through it (`sbn train --channel`).

    .venv/bin/python examples/benchmarks/bench_channel_finetune.py DEMO_DIR [--out-dir DIR]
        [--train-channel bsc:1e-2 --train-channel bsc:5e-2] [--seeds 3]

DEMO_DIR is an `sbn demo` folder: its backbone.safetensors, and its SpikeBottleNet
(spikebottlenet.safetensors, fine-tuned on clean payloads, exported in export/) as the
baseline. For every --train-channel SPEC the same fine-tune is run again from the same
backbone with the same settings (split, C', stride, epochs, batch size, learning rate, seed:
read from the demo's spikebottlenet.json) plus `--channel SPEC`, then exported. Every model
then goes through `sbn channel` (bitmap codec, all test digits, the reference executor) at
bit-error rates 1e-3 .. 1e-1 and packet erasure 1 .. 10 %, with --seeds noise seeds; the table
gives the mean over seeds and the spread.

Steps whose output is already in DIR are reused (delete DIR to start again). Writes
DIR/bench-channel-finetune.json (``sbn.bench-channel-finetune/1``), DIR/channel-finetune.png,
and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sbn.fileio import write_json

SCHEMA = "sbn.bench-channel-finetune/1"
SBN = Path(sys.executable).parent / "sbn"
EVAL_CHANNELS = (
    "bsc:1e-3",
    "bsc:1e-2",
    "bsc:3e-2",
    "bsc:5e-2",
    "bsc:1e-1",
    "erasure:0.01",
    "erasure:0.05",
    "erasure:0.1",
)


def sbn(*args) -> None:
    print("$ sbn", " ".join(map(str, args)), flush=True)
    subprocess.run([str(SBN), *map(str, args)], check=True)


def finetune(demo: Path, spec: str, out: Path) -> Path:
    """The demo's fine-tune again, through ``spec``; exported to ``out``/export-NAME."""
    settings = json.loads((demo / "spikebottlenet.json").read_text())
    bottleneck, train = settings["config"]["bottleneck"], settings["settings"]
    name = spec.replace(":", "-")
    checkpoint = out / f"sbn-{name}.safetensors"
    if not checkpoint.exists():
        sbn(
            "train",
            "--from",
            demo / "backbone.safetensors",
            "--split",
            f"RB{bottleneck['split']}",
            "--channels",
            bottleneck["channels"],
            "--stride",
            bottleneck["stride"],
            "--epochs",
            train["epochs"],
            "--batch-size",
            train["batch_size"],
            "--lr",
            repr(train["lr"]),
            "--seed",
            train["seed"],
            "--channel",
            spec,
            "--out",
            checkpoint,
        )
    export = out / f"export-{name}"
    if not export.exists():
        sbn("export", checkpoint, "--out", export)
    return export


def curves(export: Path, out: Path, label: str, seeds: int) -> list[dict]:
    """``sbn channel`` reports of ``export`` (bitmap codec), one per noise seed."""
    reports = []
    for seed in range(seeds):
        path = out / f"channel-{label}-seed{seed}.json"
        if not path.exists():
            specs = [arg for spec in EVAL_CHANNELS for arg in ("--channel", spec)]
            sbn(
                "channel",
                export,
                "--codec",
                "bitmap",
                *specs,
                "--seed",
                seed,
                "--format",
                "json",
                "--out",
                path,
            )
        reports.append(json.loads(path.read_text()))
    return reports


def summarise(reports: list[dict]) -> dict:
    """Mean, min and max accuracy over seeds, per channel (and clean)."""
    per = {"none": [r["clean_accuracy"] for r in reports]}
    for report in reports:
        for row in report["results"]:
            per.setdefault(row["channel"], []).append(row["accuracy"])
    return {spec: {"mean": float(np.mean(a)), "min": min(a), "max": max(a)} for spec, a in per.items()}


def plot(models: dict[str, dict], path: Path, samples: int) -> None:
    kinds = {"bsc": "bit-error rate", "erasure": "packet loss rate (64-byte packets)"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (kind, measure) in zip(axes, kinds.items()):
        specs = [s for s in EVAL_CHANNELS if s.startswith(kind)]
        x = [float(s.split(":")[1]) for s in specs]
        for label, model in models.items():
            acc = model["accuracy"]
            mean = [100 * acc[s]["mean"] for s in specs]
            ax.plot(x, mean, marker="o", label=label)
            ax.fill_between(
                x, [100 * acc[s]["min"] for s in specs], [100 * acc[s]["max"] for s in specs], alpha=0.2
            )
        ax.set_xscale("log")
        ax.set_xlabel(measure)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(f"Fine-tuning through the channel (demo model, bitmap payload, {samples} test digits)")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench-channel-finetune"))
    parser.add_argument("--train-channel", action="append", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    exports = {"clean fine-tune (the demo's)": (args.demo / "export", "clean")}
    for spec in args.train_channel or ["bsc:1e-2", "bsc:5e-2"]:
        exports[f"fine-tuned through {spec}"] = (finetune(args.demo, spec, out), spec.replace(":", "-"))
    models = {}
    for label, (export, name) in exports.items():
        reports = curves(export, out, name, args.seeds)
        models[label] = {"export": str(export), "accuracy": summarise(reports)}
    samples = reports[0]["samples"]
    result = {
        "schema": SCHEMA,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} ({os.cpu_count()} cores)",
        "command": " ".join(sys.argv),
        "samples": samples,
        "seeds": args.seeds,
        "codec": "bitmap",
        "channels": list(EVAL_CHANNELS),
        "models": models,
    }
    write_json(out / "bench-channel-finetune.json", result)
    plot(models, out / "channel-finetune.png", samples)
    print(f"\n| model | clean | {' | '.join(EVAL_CHANNELS)} |")
    print("|---|" + "---:|" * (len(EVAL_CHANNELS) + 1))
    for label, model in models.items():
        acc = model["accuracy"]
        cells = [f"{100 * acc[s]['mean']:.1f} %" for s in ("none", *EVAL_CHANNELS)]
        print(f"| {label} | {' | '.join(cells)} |")
    print(f"\nwrote {out / 'bench-channel-finetune.json'}, {out / 'channel-finetune.png'}")


if __name__ == "__main__":
    main()
