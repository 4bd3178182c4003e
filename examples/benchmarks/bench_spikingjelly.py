"""Our spiking ResNet50 against spikingjelly's multi-step LIF ResNet50, on the CPU, same run.

    .venv/bin/python examples/benchmarks/bench_spikingjelly.py [--repeats 5] [--threads 1]
        [--cases full,reduced] [--surrogates rect,atan] [--json FILE]

spikingjelly 2.0.0 needs Python >= 3.11 and this project's venv is 3.10 (lava-nc), so its
side runs in a venv of its own, ``.bench-venv-sj/`` (git-ignored), created on first use with
``python3.11`` (or ``--sj-python``): torch 2.14.1 (ours) and spikingjelly 2.0.0. Each net runs
in a worker process (``bench_pair_worker.py``) that stays alive for a case; the workers are
asked for one step in turn, rotating who goes first, so that a shared machine's load falls
on both alike. Reported: the median img/s of each side and the median of the per-round
ratios (ours / theirs). Same topology, T, batch, threads, SGD step and random 32x32 inputs
(``spikingjelly_resnet.py`` says what differs); ``rect`` is our surrogate, ``atan`` the
fastest path spikingjelly has on the CPU. Writes ``sbn.bench-spikingjelly/1``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sbn.models import ModelConfig

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SIDE_VENV = ROOT / ".bench-venv-sj"
SIDE_PACKAGES = ["torch==2.14.1", "spikingjelly==2.0.0"]

CASES = {
    # name: (model config, train batch, inference batch), as bench_train.py
    "full": (ModelConfig(num_classes=100, time_steps=4), 8, 16),
    "reduced": (ModelConfig(num_classes=10, width=0.0625, time_steps=4), 64, 128),
}


def side_python(python311: str | None) -> Path:
    """The side venv's interpreter, creating the venv on first use."""
    python = SIDE_VENV / "bin" / "python"
    if python.exists():
        return python
    base = python311 or shutil.which("python3.11")
    if base is None:
        sys.exit("error: spikingjelly 2.0.0 needs Python >= 3.11: put python3.11 on PATH or pass --sj-python")
    print(f"creating {SIDE_VENV} with {base} (once; a few minutes)", file=sys.stderr)
    subprocess.run([base, "-m", "venv", str(SIDE_VENV)], check=True)
    for package in SIDE_PACKAGES:  # torch first, so that spikingjelly does not pick another
        subprocess.run([str(python), "-m", "pip", "install", "-q", package], check=True)
    return python


def spec_for(config: ModelConfig, train_batch: int, infer_batch: int, threads: int) -> dict:
    lif = config.lif
    return {
        "width": config.width,
        "layers": list(config.layers),
        "num_classes": config.num_classes,
        "time_steps": config.time_steps,
        "stem": config.stem_channels,
        "planes": [config.stage_planes(s) for s in range(len(config.layers))],
        "decay": lif.decay,
        "v_th": lif.v_th,
        "surrogate_width": lif.surrogate_width,
        "threads": threads,
        "train_batch": train_batch,
        "infer_batch": infer_batch,
    }


class Worker:
    """One side's worker process: ``step(mode)`` returns the seconds of one step."""

    def __init__(self, name: str, python: Path, spec: dict) -> None:
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self.name = name
        self.proc = subprocess.Popen(
            [str(python), str(HERE / "bench_pair_worker.py"), json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.info = self._answer()

    def _answer(self) -> dict:
        for line in self.proc.stdout:  # the worker's libraries may print other lines first
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"{self.name}: the worker ended without answering (exit {self.proc.wait()})")

    def step(self, mode: str) -> float:
        self.proc.stdin.write(mode + "\n")
        self.proc.stdin.flush()
        return self._answer()["seconds"]

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


def run_case(name: str, spec: dict, sides: dict[str, tuple[Path, dict]], repeats: int) -> dict:
    """Warm every side up, then ``repeats`` rounds per mode, each side once per round."""
    workers = [Worker(side, python, {**spec, **extra}) for side, (python, extra) in sides.items()]
    try:
        times: dict[str, dict[str, list[float]]] = {w.name: {"train": [], "infer": []} for w in workers}
        for mode in ("train", "infer"):
            for w in workers:
                w.step(mode)  # warm-up: allocator, autograd graph, kernels
            for r in range(repeats):
                for w in workers[r % len(workers) :] + workers[: r % len(workers)]:
                    times[w.name][mode].append(w.step(mode))
        params = {w.name: w.info["params"] for w in workers}
    finally:
        for w in workers:
            w.close()
    batch = {"train": spec["train_batch"], "infer": spec["infer_batch"]}
    row = {
        "case": name,
        "width": spec["width"],
        "time_steps": spec["time_steps"],
        "train_batch": batch["train"],
        "infer_batch": batch["infer"],
        "threads": spec["threads"],
        "params": params,
        "seconds": times,
        "images_per_s": {},
        "ratio": {},
    }
    for side, per_mode in times.items():
        row["images_per_s"][side] = {m: batch[m] / statistics.median(t) for m, t in per_mode.items()}
    for side in times:
        if side == "sbn":
            continue
        row["ratio"][side] = {
            m: statistics.median(theirs / ours for ours, theirs in zip(times["sbn"][m], times[side][m]))
            for m in ("train", "infer")
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per mode (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads on both sides")
    parser.add_argument("--cases", default="full,reduced", help=f"comma list of {', '.join(CASES)}")
    parser.add_argument(
        "--surrogates",
        default="rect,atan",
        help="spikingjelly surrogates to measure (rect = ours; atan = its fast CPU kernel)",
    )
    parser.add_argument("--sj-python", default=None, help="a python3.11 to build the side venv with")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    sj = side_python(args.sj_python)
    sides = {"sbn": (Path(sys.executable), {"impl": "sbn"})}
    for s in args.surrogates.split(","):
        sides[f"spikingjelly-{s}"] = (sj, {"impl": "spikingjelly", "surrogate": s})
    load_before = os.getloadavg()
    rows = []
    for name in args.cases.split(","):
        config, tb, ib = CASES[name]
        row = run_case(name, spec_for(config, tb, ib, args.threads), sides, args.repeats)
        rows.append(row)
        for side, rate in row["images_per_s"].items():
            ratio = row["ratio"].get(side)
            vs = (
                f"  ours/theirs train {ratio['train']:.2f}x  inference {ratio['infer']:.2f}x" if ratio else ""
            )
            print(
                f"{name:8s} {side:22s} train {rate['train']:8.2f} img/s (batch {tb})  "
                f"inference {rate['infer']:8.2f} img/s (batch {ib}){vs}",
                flush=True,
            )
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}; {args.threads} thread(s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "schema": "sbn.bench-spikingjelly/1",
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                    "load_before": load_before,
                    "load_after": load_after,
                    "repeats": args.repeats,
                    "spikingjelly": "2.0.0",
                    "rows": rows,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
