"""Input pipeline throughput (images/s) against the model's training throughput.

    .venv/bin/python examples/benchmarks/bench_input.py [--device cpu|cuda] [--json FILE]

The pipeline is what the trainer runs per batch: shuffled indexing, 4-pixel padded random
crop + flip, uint8 -> float, on the training device (``sbn.data.loader.DeviceData``), over
one epoch of a CIFAR-sized synthetic set (50,000 uint8 images). For comparison: the path
it replaced (float images indexed on the CPU, then one crop per image in a Python loop),
and a training step of the model the pipeline has to feed. The pipeline is not the
bottleneck while its img/s is well above the model's. Writes ``sbn.bench-input/1``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from sbn.data import ImageDataset
from sbn.data.loader import DeviceData
from sbn.models import ModelConfig, build_model

CIFAR_TRAIN = 50_000


def synthetic(n: int) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageDataset("synthetic", pixels, torch.randint(0, 100, (n,), generator=g), 100)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pipeline_rate(device: torch.device, n: int = CIFAR_TRAIN, batch: int = 128) -> float:
    """Images/s of one augmented epoch through ``DeviceData`` (the transfer to the device,
    done once per run, is not counted)."""
    loader = DeviceData(synthetic(n), device)
    _sync(device)
    t0 = time.perf_counter()
    for b in loader.batches(batch, shuffle=True, augment=True, generator=torch.Generator().manual_seed(0)):
        b.images.sum()  # consume the batch as the model would
    _sync(device)
    return n / (time.perf_counter() - t0)


def per_image_rate(n: int, batch: int = 128) -> float:
    """Images/s of the replaced CPU path: float images shuffled and indexed on the CPU
    (``ImageDataset.batches``), then one crop per image in a Python loop."""
    u8 = synthetic(n)
    data = ImageDataset("float", u8.images, u8.labels, u8.num_classes)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for x, _ in data.batches(batch, shuffle=True, generator=g):
        padded = F.pad(x, (4, 4, 4, 4))
        dy = torch.randint(0, 9, (len(x),), generator=g)
        dx = torch.randint(0, 9, (len(x),), generator=g)
        flip = torch.rand(len(x), generator=g) < 0.5
        out = torch.empty_like(x)
        for i in range(len(x)):
            crop = padded[i, :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
            out[i] = crop.flip(-1) if flip[i] else crop
    return n / (time.perf_counter() - t0)


def model_rate(device: torch.device, config: ModelConfig, batch: int, steps: int = 3) -> float:
    """Images/s of training steps of ``config`` (fp32, eager), median of ``steps``."""
    torch.manual_seed(0)
    model = build_model(config).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(batch, 3, 32, 32, device=device)
    y = torch.randint(0, config.num_classes, (batch,), device=device)
    times = []
    for i in range(steps + 1):  # the first is a warm-up
        _sync(device)
        t0 = time.perf_counter()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        if i:
            times.append(time.perf_counter() - t0)
    return batch / sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--images", type=int, default=CIFAR_TRAIN)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = {
        "pipeline_images_per_s": pipeline_rate(device, args.images),
        "replaced_per_image_loop_images_per_s": per_image_rate(min(args.images, 10_000)),
        "model_train_images_per_s": {
            "width 1/16, T=4, batch 64": model_rate(device, ModelConfig(num_classes=100, width=0.0625), 64),
            "full width, T=4, batch 8": model_rate(device, ModelConfig(num_classes=100), 8, steps=2),
        },
    }
    print(json.dumps(rows, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "schema": "sbn.bench-input/1",
                    "device": args.device,
                    "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "date": time.strftime("%Y-%m-%d"),
                    **rows,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
