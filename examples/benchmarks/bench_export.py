"""Time `sbn export` on the full-width ResNet50 SpikeBottleNet (target: export + partition < 10 s).

    .venv/bin/python examples/benchmarks/bench_export.py [--split 16 --channels 32 --stride 2]

Builds the model from ModelConfig defaults (width 1.0, 100 classes, T = 4) with a bottleneck,
saves it as a checkpoint in a temporary folder, then times:

    export      export_nir(model): tdBN folding, LIF mapping, polyphase decoder
    partition   partition(graph, split): device and edge subgraphs
    cli path    export_checkpoint(ckpt, out): load + hash + export + partition + write 3 files

The figures in docs/export.md came from this script.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from sbn.checkpoint import Checkpoint, save
from sbn.graph.bundle import export_checkpoint
from sbn.graph.export import export_nir
from sbn.graph.partition import partition
from sbn.models import BottleneckConfig, ModelConfig, build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", type=int, default=16)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for export/partition")
    args = parser.parse_args()

    config = ModelConfig(bottleneck=BottleneckConfig(args.split, args.channels, args.stride))
    model = build_model(config).eval()
    params = sum(p.numel() for p in model.parameters())
    print(
        f"model: {config.arch} RB{args.split} C'={args.channels} s={args.stride}, "
        f"width {config.width}, {params / 1e6:.1f} M parameters, T = {config.time_steps}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, python {platform.python_version()}"
    )

    best_export = best_partition = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        graph = export_nir(model)
        t1 = time.perf_counter()
        device, edge = partition(graph, f"RB{args.split}")
        t2 = time.perf_counter()
        best_export, best_partition = min(best_export, t1 - t0), min(best_partition, t2 - t1)
    print(f"nodes: full {len(graph.nodes)}, device {len(device.nodes)}, edge {len(edge.nodes)}")
    print(f"export_nir            {best_export:7.2f} s")
    print(f"partition             {best_partition:7.3f} s")
    print(f"export + partition    {best_export + best_partition:7.2f} s   (target < 10 s)")

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "sbn.safetensors"
        save(ckpt, Checkpoint(config, model.state_dict()))
        t0 = time.perf_counter()
        manifest = export_checkpoint(ckpt, Path(tmp) / "export")
        elapsed = time.perf_counter() - t0
        sizes = {p.name: p.stat().st_size / 2**20 for p in (Path(tmp) / "export").iterdir()}
    print(f"whole sbn export path {elapsed:7.2f} s   (load, hash, export, partition, write)")
    print("files: " + ", ".join(f"{n} {s:.0f} MiB" for n, s in sorted(sizes.items())))
    print(
        f"payload {manifest['payload_shape']}: {manifest['bits_per_sample']} bits per sample, "
        f"ratio {manifest['compression_ratio']:g}"
    )


if __name__ == "__main__":
    main()
