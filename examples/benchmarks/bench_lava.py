"""Benchmarks of the Lava backend (figures recorded in docs/lava.md).

(a) one time step of a ResNet50 convolution: Lava's stock CPU Conv kernel (scipy,
    one convolve2d per channel pair) against the toolchain's GEMM kernel (same inputs,
    same Lava layout), and the speed-up;
(b) the full-width SpikeBottleNet-ResNet50 (CIFAR 32x32, T = 4, bottleneck after RB16):
    one sample through device + edge in Lava (two networks), wall time and memory.

    .venv/bin/python examples/benchmarks/bench_lava.py [--skip-layers] [--skip-full] [--fuse block]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import threading
import time

import numpy as np


def bench_conv(name, x_shape, cout, k, pad, repeats=3):
    from lava.proc.conv import utils

    from sbn.targets.lava.fast_models import lava_conv

    rng = np.random.default_rng(0)
    x = (rng.random(x_shape) < 0.2).astype(float)  # (X, Y, C) spikes
    w = rng.normal(size=(cout, k, k, x_shape[2]))
    t = time.perf_counter()
    ref = utils.conv_scipy(x, w, (k, k), (1, 1), (pad, pad), (1, 1), 1)
    stock = time.perf_counter() - t
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        mine = lava_conv(x, w, 1, pad, 1, 1)
        best = min(best, time.perf_counter() - t)
    err = float(np.abs(mine - ref).max())
    print(f"{name}: stock {stock:.3f} s/step, sbn_fast {best * 1e3:.2f} ms/step, "
          f"speed-up {stock / best:.0f}x, max |diff| {err:.1e}", flush=True)


def bench_all_layers():
    """Every Conv2d of the full-width exported ResNet50 (CIFAR), one step each: ours timed,
    the stock kernel timed on 4 output channels and scaled by C_out / 4 (its cost is linear
    in the channel pairs it loops over)."""
    import torch
    from lava.proc.conv import utils

    from sbn.graph import export_nir
    from sbn.models import ModelConfig, build_model
    from sbn.targets.lava import make_plan
    from sbn.targets.lava.fast_models import lava_conv

    torch.manual_seed(0)
    graph = export_nir(build_model(ModelConfig()).eval())
    plan = make_plan(graph, fuse="graph")
    rng = np.random.default_rng(0)
    stock_total = ours_total = 0.0
    convs = 0
    for name, node in graph.nodes.items():
        if type(node).__name__ != "Conv2d":
            continue
        c, h, w = plan.shapes[plan.preds[name][0]]
        weight = np.asarray(node.weight).transpose(0, 2, 3, 1)[:, ::-1, ::-1]  # Lava layout
        k, s, p = weight.shape[1], int(np.ravel(node.stride)[0]), int(np.ravel(node.padding)[0])
        x = (rng.random((h, w, c)) < 0.2).astype(float)
        sub = min(4, weight.shape[0])
        t = time.perf_counter()
        utils.conv_scipy(x, np.ascontiguousarray(weight[:sub]), (k, k), (s, s), (p, p), (1, 1), 1)
        stock_total += (time.perf_counter() - t) * weight.shape[0] / sub
        t = time.perf_counter()
        lava_conv(x, weight, s, p, 1, 1)
        ours_total += time.perf_counter() - t
        convs += 1
    print(f"all {convs} convolutions of ResNet50 (CIFAR, one step): stock ~{stock_total:.1f} s "
          f"(extrapolated), sbn_fast {ours_total:.3f} s, speed-up ~{stock_total / ours_total:.0f}x",
          flush=True)


def _pss(pid: int) -> int:
    """Proportional set size in bytes: shared pages split between the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Peak of the summed PSS of this process and its descendants (pages shared after fork
    counted once in total), sampled every 0.2 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.done = False

    def run(self):
        from sbn.targets.lava.runtime import child_pids

        while not self.done:
            total = sum(_pss(pid) for pid in child_pids() | {os.getpid()})
            self.peak = max(self.peak, total)
            time.sleep(0.2)


def bench_full(fuse: str):
    import torch

    from sbn.graph import export_nir, partition
    from sbn.models import BottleneckConfig, ModelConfig, build_model
    from sbn.targets.lava import simulate_split

    torch.manual_seed(0)
    model = build_model(ModelConfig(bottleneck=BottleneckConfig(16, 32, 2))).eval()
    graph = export_nir(model)
    device, edge = partition(graph, "RB16")
    image = np.random.default_rng(0).random((1, 3, 32, 32))
    sampler = RssSampler()
    sampler.start()
    t = time.perf_counter()
    run = simulate_split(device, edge, image, fuse=fuse)
    wall = time.perf_counter() - t
    sampler.done = True
    print(f"full-width SpikeBottleNet-ResNet50, RB16 split, T=4, fuse={fuse}: {wall:.1f} s for one "
          f"sample (device {run.device.wall_s:.1f} s with {run.device.processes} processes, "
          f"edge {run.edge.wall_s:.1f} s with {run.edge.processes}); bytes/sample "
          f"{run.bytes_per_sample[0]}; peak summed PSS {sampler.peak / 2**30:.2f} GiB; parent "
          f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-layers", action="store_true")
    parser.add_argument("--fuse", default="block", choices=["node", "block", "graph"])
    args = parser.parse_args()
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    bench_conv("1x1 conv 1024->256 on 8x8", (8, 8, 1024), 256, 1, 0)
    bench_conv("3x3 conv 64->64 on 32x32", (32, 32, 64), 64, 3, 1)
    if not args.skip_layers:
        bench_all_layers()
    if not args.skip_full:
        bench_full(args.fuse)


if __name__ == "__main__":
    main()
