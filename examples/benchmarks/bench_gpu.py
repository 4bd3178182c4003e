"""GPU training figures for docs/training.md, in one run of a few minutes.

    .venv/bin/python examples/benchmarks/bench_gpu.py --json bench_gpu.json
    .venv/bin/python examples/benchmarks/bench_gpu.py --device cpu --smoke   # checks the script

Full-width spiking ResNet50, T = 4, CIFAR-100 head, batch 64 and 128, random images (speed
does not depend on the pixels). For each mode (eager fp32, eager bf16, fused LIF fp32/bf16,
channels-last bf16): training and inference images/s (median of ``--steps`` timed steps
after two warm-ups; the first step's seconds include torch.compile for the fused modes),
peak GPU memory, and for the eager modes the share of the step spent in the LIF time loop
(the same step with every LIF replaced by a per-time-step threshold without the
recurrence). Then the input pipeline's images/s on the device (bench_input.py), and with
more than one GPU the data-parallel scaling (DDP, synchronised tdBN, fixed batch per GPU).

Every case is written to ``--json`` (``sbn.bench-gpu/1``) as soon as it is measured, so a
run stopped by its time limit keeps what it measured; ``--budget-s`` skips the cases that
would start after it. Without a GPU it says so and exits 0 (``--device cpu --smoke`` runs
every path on a tiny model instead: a check of this script, not a figure).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from sbn.models import LIF, ModelConfig, build_model
from sbn.models.neurons import spike
from sbn.train_ddp import Ranks, process_group, wrap
from sbn.train_precision import precision_for
from sbn.train_runtime import Runtime

sys.path.insert(0, str(Path(__file__).parent))
from bench_input import pipeline_rate

SCHEMA = "sbn.bench-gpu/1"
#: mode -> (LIF kernel, precision, channels-last)
MODES = {
    "eager-fp32": ("eager", "fp32", False),
    "eager-bf16": ("eager", "bf16", False),
    "fused-fp32": ("fused", "fp32", False),
    "fused-bf16": ("fused", "bf16", False),
    "channels-last-bf16": ("eager", "bf16", True),
}


class NoRecurrence(LIF):
    """The LIF's threshold (and surrogate) per time step without the membrane recurrence:
    what is left of a step's time when the time loop costs nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return spike(x, self.params)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def _swap_lifs(model: torch.nn.Module, cls: type) -> None:
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, LIF):
                setattr(parent, name, cls(child.params))


class Case:
    """One model in one mode at one batch size, ready to step."""

    def __init__(
        self, config: ModelConfig, batch: int, mode: str, device: torch.device, ranks: Ranks = Ranks()
    ) -> None:
        lif, precision, channels_last = MODES[mode]
        self.device = device
        self.runtime = Runtime(device=device, channels_last=channels_last, lif=lif, ranks=ranks)
        self.precision = precision_for(precision, device)
        torch.manual_seed(0)
        self.model = self.runtime.prepare(build_model(config))
        self.net = wrap(self.model, ranks, device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.scaler = self.precision.grad_scaler()
        self.x = self.runtime.inputs(torch.rand(batch, 3, 32, 32, device=device))
        self.y = torch.randint(0, config.num_classes, (batch,), device=device)

    def train_step(self) -> None:
        self.net.train()
        with self.precision.autocast():
            logits = self.net(self.x)
        loss = F.cross_entropy(logits.float(), self.y)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()

    @torch.no_grad()
    def infer_step(self) -> None:
        self.model.eval()
        with self.precision.autocast():
            self.model(self.x)

    def median(self, fn, steps: int) -> float:
        return statistics.median(_time(fn, self.device) for _ in range(steps))


def measure(config: ModelConfig, batch: int, mode: str, device: torch.device, steps: int) -> dict:
    case = Case(config, batch, mode, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    first = _time(case.train_step, device)  # allocator, cuDNN autotuning, torch.compile
    case.train_step()
    train = case.median(case.train_step, steps)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    case.infer_step()
    infer = case.median(case.infer_step, steps)
    row = {
        "first_step_s": first,
        "train_images_per_s": batch / train,
        "infer_images_per_s": batch / infer,
        "peak_memory_gib": peak,
    }
    if MODES[mode][0] == "eager":
        _swap_lifs(case.model, NoRecurrence)
        case.train_step()
        case.infer_step()
        row["lif_loop_share_of_train"] = max(0.0, 1 - case.median(case.train_step, steps) / train)
        row["lif_loop_share_of_inference"] = max(0.0, 1 - case.median(case.infer_step, steps) / infer)
    return row


def _ddp_worker(
    rank: int,
    world: int,
    port: int,
    config: ModelConfig,
    batch: int,
    mode: str,
    device_type: str,
    steps: int,
    out: str,
) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    ranks = Ranks(rank, rank, world)
    device = torch.device("cuda", rank) if device_type == "cuda" else torch.device("cpu")
    if device_type == "cpu":
        torch.set_num_threads(1)
    with process_group(ranks, device):
        case = Case(config, batch, mode, device, ranks)
        case.train_step()
        case.train_step()
        seconds = case.median(case.train_step, steps)
        if rank == 0:
            Path(out).write_text(json.dumps({"seconds": seconds}))


def ddp_scaling(
    config: ModelConfig, batch: int, mode: str, device_type: str, worlds: list[int], steps: int
) -> list[dict]:
    """Images/s with ``batch`` per rank on 1..N ranks (weak scaling) and the efficiency."""
    import torch.multiprocessing as mp

    rows = []
    for world in worlds:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "rank0.json")
            mp.spawn(
                _ddp_worker,
                args=(world, port, config, batch, mode, device_type, steps, out),
                nprocs=world,
                join=True,
            )
            seconds = json.loads(Path(out).read_text())["seconds"]
        rows.append({"ranks": world, "batch_per_rank": batch, "train_images_per_s": world * batch / seconds})
    base = rows[0]["train_images_per_s"]
    for row in rows:
        row["efficiency"] = row["train_images_per_s"] / (row["ranks"] * base)
    return rows


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--json", default="bench_gpu.json")
    parser.add_argument("--batches", default="64,128")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--steps", type=int, default=5, help="timed steps per figure (median)")
    parser.add_argument("--budget-s", type=float, default=480, help="start no case after this many seconds")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny model, 1 step, 2 CPU ranks for DDP: checks the script"
    )
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    if args.device == "cuda" and not torch.cuda.is_available():
        message = (
            "no CUDA GPU here (torch.cuda.is_available() is False): nothing measured. "
            "Run this on a GPU machine; --device cpu --smoke checks the script itself."
        )
        print(f"bench_gpu: {message}")
        Path(args.json).write_text(json.dumps({"schema": SCHEMA, "skipped": message}, indent=2))
        return 0
    device = torch.device(args.device)
    config = ModelConfig(num_classes=100, time_steps=4)
    batches = [int(b) for b in args.batches.split(",")]
    steps = args.steps
    if args.smoke:
        config = ModelConfig(num_classes=100, width=0.0625, layers=(1, 1, 1, 1), time_steps=2)
        batches, steps = [4, 8], 1
    report = {
        "schema": SCHEMA,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "smoke": args.smoke,
        "config": config.to_dict(),
        "rows": [],
        "skipped": [],
    }
    save = lambda: Path(args.json).write_text(json.dumps(report, indent=2))
    started = time.time()
    for batch in batches:
        for mode in args.modes.split(","):
            if time.time() - started > args.budget_s:
                report["skipped"].append(f"{mode} batch {batch}: over --budget-s")
                continue
            row = _guarded(measure, config, batch, mode, device, steps)
            report["rows"].append({"mode": mode, "batch": batch, **row})
            save()
            print(json.dumps(report["rows"][-1]), flush=True)
    rate = _guarded(lambda: {"images_per_s": pipeline_rate(device, 5_000 if args.smoke else 50_000)})
    report["input_pipeline_images_per_s"] = rate.get("images_per_s")
    if "error" in rate:
        report["input_pipeline_error"] = rate["error"]
    save()
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    worlds = [1, 2] if args.smoke else ([1, gpus] if gpus > 1 else [])
    if worlds and time.time() - started <= args.budget_s:
        batch = batches[-1] if args.smoke else 64
        scaling = _guarded(
            lambda: {"rows": ddp_scaling(config, batch, "eager-bf16", device.type, worlds, steps)}
        )
        report["ddp"] = scaling.get("rows", [])
        if "error" in scaling:
            report["ddp_error"] = scaling["error"]
        print(json.dumps(scaling), flush=True)
    elif not worlds:
        report["skipped"].append("DDP scaling: one GPU")
    save()
    failed = [r for r in report["rows"] if "error" in r] + [k for k in report if k.endswith("_error")]
    print(f"wrote {args.json} in {time.time() - started:.0f} s; {len(failed)} case(s) failed")
    return 1 if failed else 0


def _guarded(fn, *args) -> dict:
    """``fn(*args)``, or ``{"error": ...}`` when it fails: one case that cannot run (out of
    memory, a compiler this torch lacks) must not cost the others their device time."""
    try:
        return fn(*args)
    except Exception as exc:  # recorded, and the run's exit code says so
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        first = (str(exc).strip().splitlines() or [""])[0]
        error = (
            "out of memory"
            if isinstance(exc, torch.cuda.OutOfMemoryError)
            else f"{type(exc).__name__}: {first}"
        )
        print(f"bench_gpu: {error[:300]}", file=sys.stderr, flush=True)
        return {"error": error[:300]}


if __name__ == "__main__":
    sys.exit(main())
