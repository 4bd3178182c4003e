"""Benchmarks of the Lava backend (figures recorded in docs/lava.md).

(a) one time step of a ResNet50 convolution at several spike densities: Lava's stock CPU
    Conv kernel (scipy, one convolve2d per channel pair) against the toolchain's ``sbn_fast``
    kernel (same inputs, same Lava layout, the same bits) and the executor's GEMM;
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


def _best(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_conv(name, x_shape, cout, k, pad, densities=(0.05, 0.1, 0.2), repeats=20):
    """One layer, one step: Lava's stock kernel against ``sbn_fast`` (Lava-order kernel, one
    thread) and, for scale, the reference executor's GEMM (``numerics.conv2d``, BLAS threads)."""
    from lava.proc.conv import utils

    from sbn.graph import numerics
    from sbn.targets.lava.lava_order import LavaOrderConv

    rng = np.random.default_rng(0)
    w = rng.normal(size=(cout, k, k, x_shape[2]))
    conv = LavaOrderConv(w, 1, pad, 1, 1)
    w_nchw = np.ascontiguousarray(w[:, ::-1, ::-1].transpose(0, 3, 1, 2))
    for density in densities:
        x = (rng.random(x_shape) < density).astype(float)  # (X, Y, C) spikes
        stock, ref = _best(lambda: utils.conv_scipy(x, w, (k, k), (1, 1), (pad, pad), (1, 1), 1), 3)
        mine, out = _best(lambda: conv(x, binary=True), repeats)
        x_nchw = np.ascontiguousarray(x.transpose(2, 0, 1))[None]
        gemm, _ = _best(lambda: numerics.conv2d(x_nchw, w_nchw, None, 1, pad, 1, 1), repeats)
        identical = np.array_equal(out.view(np.int64), ref.view(np.int64))
        print(
            f"{name}, {density:.0%} spikes: stock {stock * 1e3:.1f} ms, sbn_fast {mine * 1e3:.2f} ms "
            f"({stock / mine:.0f}x, bit-identical: {identical}), GEMM {gemm * 1e3:.2f} ms "
            f"({stock / gemm:.0f}x)",
            flush=True,
        )


def bench_all_layers(density=0.2, per_layer=False):
    """Every Conv2d of the full-width exported ResNet50 (CIFAR), one step each: ours timed,
    the stock kernel timed on 4 output channels and scaled by C_out / 4 (its cost is linear
    in the channel pairs it loops over). ``per_layer`` prints each layer's speed-up."""
    import torch
    from lava.proc.conv import utils

    from sbn.graph import export_nir
    from sbn.models import ModelConfig, build_model
    from sbn.targets.lava import make_plan
    from sbn.targets.lava.lava_order import LavaOrderConv

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
        # the stem sees the image (graded values), every other layer spikes
        x = rng.random((h, w, c)) if c == 3 else (rng.random((h, w, c)) < density).astype(float)
        sub = min(4, weight.shape[0])
        stock = (
            _best(
                lambda: utils.conv_scipy(
                    x, np.ascontiguousarray(weight[:sub]), (k, k), (s, s), (p, p), (1, 1), 1
                ),
                2,
            )[0]
            * weight.shape[0]
            / sub
        )
        conv = LavaOrderConv(weight, s, p, 1, 1)
        ours = _best(lambda: conv(x), 5)[0]
        stock_total += stock
        ours_total += ours
        convs += 1
        if per_layer:
            print(
                f"  {name:28s} {k}x{k}/{s} {c:4d}->{weight.shape[0]:4d} on {h:2d}x{w:<2d} "
                f"stock {stock * 1e3:8.1f} ms  sbn_fast {ours * 1e3:7.3f} ms  {stock / ours:6.0f}x",
                flush=True,
            )
    print(
        f"all {convs} convolutions of ResNet50 (CIFAR, one step, {density:.0%} spikes): stock "
        f"~{stock_total:.1f} s (extrapolated), sbn_fast {ours_total:.3f} s, speed-up "
        f"~{stock_total / ours_total:.0f}x",
        flush=True,
    )


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


def calibrated(model):
    """Norm statistics estimated on 16 random images (the trainer's precise-BN pass), so
    that every layer's input is normalised and the network fires (about 15 % per layer) as
    a trained one does; with the default statistics an untrained network stays silent, and
    a spike-driven kernel would then have nothing to time."""
    import torch

    from sbn.data.base import ImageDataset
    from sbn.train import recalibrate_norm

    images = torch.from_numpy(np.random.default_rng(1).random((16, 3, 32, 32))).float()
    recalibrate_norm(
        model,
        ImageDataset("random", images, torch.zeros(16, dtype=torch.int64), 10),
        batch_size=16,
        samples=16,
    )
    return model.eval()


def bench_full(fuse: str):
    import torch

    from sbn.graph import export_nir, partition
    from sbn.models import BottleneckConfig, ModelConfig, build_model
    from sbn.targets.lava import simulate_split
    from sbn.targets.lava.split import encode

    torch.manual_seed(0)
    model = calibrated(build_model(ModelConfig(bottleneck=BottleneckConfig(16, 32, 2))))
    graph = export_nir(model)
    device, edge = partition(graph, "RB16")
    image = np.random.default_rng(0).random((1, 3, 32, 32))
    sampler = RssSampler()
    sampler.start()
    t = time.perf_counter()
    run = simulate_split(device, edge, image, fuse=fuse)
    wall = time.perf_counter() - t
    sampler.done = True
    print(
        f"full-width SpikeBottleNet-ResNet50, RB16 split, T=4, fuse={fuse}: {wall:.1f} s for one "
        f"sample (device {run.device.wall_s:.1f} s with {run.device.processes} processes, "
        f"edge {run.edge.wall_s:.1f} s with {run.edge.processes}); bytes/sample "
        f"{run.bytes_per_sample[0]}; peak summed PSS {sampler.peak / 2**30:.2f} GiB; parent "
        f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB; "
        f"device firing rate {_firing_rate(device, encode(image, 4)):.3f} (the kernel's time "
        f"follows the spike count)",
        flush=True,
    )


def _firing_rate(graph, inputs) -> float:
    """Spikes per neuron per step over every LIF node of ``graph`` (reference executor)."""
    import nir

    from sbn.graph import execute

    trace = execute(graph, inputs, record=True).trace
    lifs = [trace[n] for n, node in graph.nodes.items() if isinstance(node, nir.LIF) and n in trace]
    return sum(float(v.sum()) for v in lifs) / sum(v.size for v in lifs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-layers", action="store_true")
    parser.add_argument("--fuse", default="block", choices=["node", "block", "graph"])
    parser.add_argument("--per-layer", action="store_true", help="each convolution's speed-up")
    args = parser.parse_args()
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    bench_conv("1x1 conv 1024->256 on 8x8", (8, 8, 1024), 256, 1, 0)
    bench_conv("3x3 conv 64->64 on 32x32", (32, 32, 64), 64, 3, 1)
    if not args.skip_layers:
        for density in (0.1, 0.2):
            bench_all_layers(density, args.per_layer)
    if not args.skip_full:
        bench_full(args.fuse)


if __name__ == "__main__":
    main()
