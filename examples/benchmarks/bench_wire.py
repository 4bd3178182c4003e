"""The wire on the demo model: bytes per sample per codec at every split point, codec speed at
full width, and accuracy through noisy channels.

    .venv/bin/python examples/benchmarks/bench_wire.py DEMO_DIR [--samples 359] [--out-dir DIR]

DEMO_DIR is an `sbn demo` folder (backbone.safetensors, export/). Three parts:

1. Bytes per sample per codec after RB1..RB16 (C' = 8, stride 1, T = 2, as the demo). Only
   RB7 has a fine-tuned bottleneck (the demo's); training one per split would take an hour.
   At the other splits the payload is that of an *untrained* encoder (seeded conv, its tdBN
   statistics calibrated on the images) on the *trained* backbone's features: real spatial
   structure, a firing rate set by tdBN rather than by learning. The row at RB7 is given
   both ways, so the gap between the two shows. Written as ``sbn.payload-bytes/1``
   (``sbn bits --width 0.125 --T 2 --channels 8 --payloads DIR/payload-bytes.json``).
2. Encode + decode time per sample at full width, on i.i.d. random payloads at a 15 % firing
   rate (the full-width network's measured rate): the headline RB16 payload (C' = 32,
   stride 2, T = 4) and a large one (RB1, C' = 32, stride 1, T = 4).
3. Accuracy of the demo's fine-tuned model per codec at bit-error rates 1e-4, 1e-3, 1e-2 and
   packet erasure 1 %, 5 % (64-byte packets), plus a bursty Gilbert-Elliott channel, in the
   reference executor (``sbn.noise_curves``; Lava gives the same spikes, docs/lava.md).

Writes DIR/bench-wire.json (``sbn.bench-wire/1``), DIR/payload-bytes.json, DIR/channel.png,
DIR/bits.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from sbn import checkpoint as ckpt_io
from sbn.data import load_dataset
from sbn.energy.bits import uniform_table
from sbn.energy.plots import plot_bits
from sbn.fileio import write_json
from sbn.graph.io import load_nir
from sbn.models import BottleneckConfig, build_model
from sbn.models.norm import TdBatchNorm
from sbn.noise_curves import DEFAULT_CHANNELS, accuracy_under_noise
from sbn.noise_plots import plot_noise_curves
from sbn.wire import CODECS
from sbn.wire.payload_sizes import measure_row, write_payload_bytes

CHANNELS = (*DEFAULT_CHANNELS, "ge:1e-4:0.1")  # bursts of 10 bits, mean BER 5e-4
FULL_WIDTH = {"RB16 C'=32 s=2 T=4": (4, 32, 2, 2), "RB1 C'=32 s=1 T=4": (4, 32, 32, 32)}


def split_payloads(
    backbone_path: Path, images: torch.Tensor, channels: int = 8
) -> dict[str, tuple[np.ndarray, tuple[int, ...]]]:
    """RBk -> ([T, B, C', H', W'] spikes of an untrained, calibrated encoder after RBk, the
    (C, H, W) of RBk's output it replaces)."""
    ckpt = ckpt_io.load(backbone_path)
    backbone = ckpt.build().eval()
    payloads = {}
    with torch.no_grad():
        x = backbone.stem(backbone.encode_input(images))
        for k in range(1, ckpt.config.num_blocks + 1):
            x = backbone.run_blocks(x, k - 1, k)
            torch.manual_seed(k)
            unit = build_model(ckpt.config.with_bottleneck(BottleneckConfig(k, channels, 1))).bottleneck
            for bn in (m for m in unit.modules() if isinstance(m, TdBatchNorm)):
                bn.momentum = 1.0  # the running statistics become this batch's
            unit.train()
            unit.encode(x)
            unit.eval()
            payloads[f"RB{k}"] = unit.encode(x).numpy().astype(np.float64), tuple(x.shape[2:])
    return payloads


def codec_speed(shape: tuple[int, ...], rate: float = 0.15, repeats: int = 20) -> dict[str, dict]:
    spikes = (np.random.default_rng(0).random(shape) < rate).astype(np.float64)
    out = {}
    for name, codec in CODECS.items():
        t0 = time.perf_counter()
        for _ in range(repeats):
            frame = codec.encode(spikes)
        t1 = time.perf_counter()
        for _ in range(repeats):
            codec.decode(frame, shape)
        t2 = time.perf_counter()
        out[name] = {
            "bytes": len(frame),
            "encode_ms": 1e3 * (t1 - t0) / repeats,
            "decode_ms": 1e3 * (t2 - t1) / repeats,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo_dir", type=Path)
    parser.add_argument("--samples", type=int, default=359, help="test digits (359: all)")
    parser.add_argument("--out-dir", type=Path, default=Path("bench-wire"))
    args = parser.parse_args()
    data = load_dataset("digits", train=False)
    n = min(args.samples, len(data.labels))
    images, labels = data.images[:n], data.labels[:n].numpy()
    started = time.time()

    rows = [
        measure_row(split, p, raw_shape)
        for split, (p, raw_shape) in split_payloads(args.demo_dir / "backbone.safetensors", images).items()
    ]
    export = args.demo_dir / "export"
    manifest = json.loads((export / "manifest.json").read_text())
    device, edge = load_nir(export / "device.nir"), load_nir(export / "edge.nir")
    noise = accuracy_under_noise(
        device,
        edge,
        images.double().numpy(),
        labels,
        time_steps=manifest["time_steps"],
        codecs=list(CODECS),
        channels=CHANNELS,
        seed=0,
    )
    fine_tuned = {
        "split": manifest["split"],
        "firing_rate": noise["payload_firing_rate"],
        "bytes_per_sample": {c: v["bytes_per_sample"]["mean"] for c, v in noise["codecs"].items()},
    }
    speed = {label: codec_speed(shape) for label, shape in FULL_WIDTH.items()}

    out = args.out_dir
    write_payload_bytes(
        out / "payload-bytes.json",
        rows,
        source=f"{args.demo_dir}: untrained calibrated encoders (C' = 8) on the trained backbone",
    )
    ckpt = ckpt_io.load(args.demo_dir / "backbone.safetensors")
    table = uniform_table(ckpt.config, 8, 1)
    plot_bits(table, out / "bits.png", {r["split"]: r["bytes_per_sample"] for r in rows})
    plot_noise_curves(noise, out / "channel.png")
    write_json(
        out / "bench-wire.json",
        {
            "schema": "sbn.bench-wire/1",
            "machine": f"{platform.node()}, {os.cpu_count()} CPUs, torch {torch.get_num_threads()} threads",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "samples": n,
            "seconds": time.time() - started,
            "split_payloads": rows,
            "fine_tuned": fine_tuned,
            "full_width_speed": speed,
            "noise": noise,
        },
    )
    _print(rows, fine_tuned, speed, noise)


def _print(rows, fine_tuned, speed, noise) -> None:
    names = list(CODECS)
    print("split  shape      rate   " + "  ".join(f"{c:>7}" for c in names) + "   (bytes per sample)")
    for r in rows:
        print(
            f"{r['split']:<6} {'x'.join(map(str, r['payload_shape'])):<10} {r['firing_rate']:.3f}  "
            + "  ".join(f"{r['bytes_per_sample'][c]:7.1f}" for c in names)
        )
    print(
        f"{fine_tuned['split']} fine-tuned (rate {fine_tuned['firing_rate']:.3f}): "
        + ", ".join(f"{c} {v:.1f}" for c, v in fine_tuned["bytes_per_sample"].items())
    )
    for label, codecs in speed.items():
        print(
            f"{label}: "
            + "; ".join(
                f"{c} {v['bytes']} B, enc {v['encode_ms']:.3f} ms, dec {v['decode_ms']:.3f} ms"
                for c, v in codecs.items()
            )
        )
    print(f"clean accuracy {noise['clean_accuracy']:.4f} on {noise['samples']} samples")
    for r in noise["results"]:
        print(f"  {r['codec']:<7} {r['channel']:<14} accuracy {r['accuracy']:.4f}  lost {r['lost_frames']}")


if __name__ == "__main__":
    main()
