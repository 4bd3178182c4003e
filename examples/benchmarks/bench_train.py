"""Training and inference throughput (images/s) of the spiking ResNet50, full and reduced width.

    .venv/bin/python examples/benchmarks/bench_train.py [--device cpu|cuda] [--repeats 3]

Random 32x32 images (throughput does not depend on the pixels); one warm-up step, then the
median over ``--repeats`` timed steps. Prints a table and, with --json FILE, writes
``sbn.bench-train/1``. Figures are recorded in docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from sbn.models import LIF, BottleneckConfig, ModelConfig, build_model

sys.path.insert(0, str(Path(__file__).parent))
from bench_steps import infer_step, timed, train_step

CASES = [
    # name, config, train batch, inference batch
    ("spiking ResNet50, full width, T=4", ModelConfig(num_classes=100, time_steps=4), 8, 16),
    (
        "SpikeBottleNet RB16 C'=32 s=2, full width, T=4",
        ModelConfig(num_classes=100, time_steps=4, bottleneck=BottleneckConfig(16, 32, 2)),
        8,
        16,
    ),
    ("spiking ResNet50, width 1/16, T=4 (reduced)", ModelConfig(num_classes=10, width=0.0625), 64, 128),
    (
        "spiking ResNet50, width 1/16, T=2 (reduced)",
        ModelConfig(num_classes=10, width=0.0625, time_steps=2),
        64,
        128,
    ),
]


def bench(config: ModelConfig, train_batch: int, infer_batch: int, repeats: int, device: str) -> dict:
    torch.manual_seed(0)
    model = build_model(config).to(device)
    optimizer = torch.optim.Adam(model.parameters())
    x = torch.rand(train_batch, 3, 32, 32, device=device)
    y = torch.randint(0, config.num_classes, (train_batch,), device=device)
    xi = torch.rand(infer_batch, 3, 32, 32, device=device)
    train, infer = train_step(model, model, optimizer, x, y), infer_step(model, model, xi)
    t_train = timed(train, repeats, device)
    t_infer = timed(infer, repeats, device)
    # The LIF's share of inference time: the same forward with every LIF swapped for a
    # stateless threshold (no time loop). What is left over is the cost of the time loop.
    lifs = [m for m in model.modules() if isinstance(m, LIF)]
    originals = [m.forward for m in lifs]
    for m in lifs:
        m.forward = lambda v, th=m.params.v_th: (v >= th).to(v.dtype)
    t_no_loop = timed(infer, repeats, device)
    for m, f in zip(lifs, originals):
        m.forward = f
    return {
        "lif_loop_share_of_inference": max(0.0, 1.0 - t_no_loop / t_infer),
        "params": sum(p.numel() for p in model.parameters()),
        "train_batch": train_batch,
        "train_images_per_s": train_batch / t_train,
        "infer_batch": infer_batch,
        "infer_images_per_s": infer_batch / t_infer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    machine = (
        torch.cuda.get_device_name()
        if args.device == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    rows = []
    for name, config, tb, ib in CASES:
        result = bench(config, tb, ib, args.repeats, args.device)
        rows.append({"case": name, **result})
        print(
            f"{name:52s} {result['params'] / 1e6:6.2f} M params  "
            f"train {result['train_images_per_s']:8.1f} img/s (batch {tb})  "
            f"inference {result['infer_images_per_s']:8.1f} img/s (batch {ib})  "
            f"LIF time loop {result['lif_loop_share_of_inference']:.0%} of inference",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "schema": "sbn.bench-train/1",
                    "device": args.device,
                    "machine": machine,
                    "torch": torch.__version__,
                    "date": time.strftime("%Y-%m-%d"),
                    "rows": rows,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
