"""Benchmarks of the fixed-point Loihi 2 path (figures recorded in docs/loihi-bench.md).

(a) the full-width SpikeBottleNet-ResNet50 (CIFAR 32x32, T = 4, bottleneck C' = 32 stride 2
    after RB16, norms calibrated as in bench_lava.py): the device graph quantised for
    ``loihi2`` and run with ``simulate_fixed`` under the toolchain's fast models: wall time
    (network build, Lava compile, runtime start, run), peak summed PSS, Lava processes,
    latency and firing rate;
(b) per process type, one Lava step of a tiny network (io source -> process -> io sink)
    under the toolchain's fast model against Lava's stock bit-accurate model
    (``fixed_run_cfg(fast=True)`` vs ``fixed_run_cfg(fast=False)``), a pass-through
    (source -> sink) baseline subtracted, the sink's outputs compared bit for bit.

    .venv/bin/python examples/benchmarks/bench_loihi.py [--skip-full] [--skip-layers]
        [--samples N] [--steps S] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lava import RssSampler, calibrated

# ---- (a) the full network -----------------------------------------------------------------


@contextlib.contextmanager
def _phase_timer(times: dict):
    """Times ``build`` (Lava processes from the quantisation), Lava's compile and its runtime
    start (``create_runtime`` less compile), by wrapping them for the duration (measurement
    only; nothing else changes)."""
    from lava.magma.core.process.process import AbstractProcess

    from sbn.targets.lava.loihi import simulate as sim

    def timed(key, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - t

        return wrapper

    saved = sim.build, AbstractProcess.compile, AbstractProcess.create_runtime
    sim.build = timed("build", saved[0])
    AbstractProcess.compile = timed("compile", saved[1])
    AbstractProcess.create_runtime = timed("create_runtime", saved[2])
    try:
        yield times
    finally:
        sim.build, AbstractProcess.compile, AbstractProcess.create_runtime = saved


def bench_full(samples: int) -> dict:
    import torch

    from sbn.graph import export_nir, partition
    from sbn.models import BottleneckConfig, ModelConfig, build_model
    from sbn.targets.lava.loihi import simulate_fixed
    from sbn.targets.quantize import quantize
    from sbn.targets.registry import get_target

    torch.manual_seed(0)
    t = time.perf_counter()
    model = calibrated(build_model(ModelConfig(bottleneck=BottleneckConfig(16, 32, 2))))
    graph = export_nir(model)
    device, _edge = partition(graph, "RB16")
    prepare = time.perf_counter() - t
    t = time.perf_counter()
    q = quantize(device, get_target("loihi2"))
    quant = time.perf_counter() - t
    images = np.random.default_rng(0).random((samples, 3, 32, 32))
    sampler = RssSampler()
    sampler.start()
    times: dict = {}
    t = time.perf_counter()
    with _phase_timer(times):
        run = simulate_fixed(device, q, images, time_steps=4, fast=True)
    wall = time.perf_counter() - t
    sampler.done = True
    sampler.join()
    kinds: dict[str, int] = {}
    for kind in run.processes.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    spikes = sum(int(s.sum()) for s in run.spikes.values())
    neurons = sum(s[:, 0].size for s in run.spikes.values())  # per step and sample
    result = {
        "samples": samples,
        "time_steps": 4,
        "prepare_s": prepare,
        "quantize_s": quant,
        "wall_s": wall,
        "build_s": times.get("build", 0.0),
        "compile_s": times.get("compile", 0.0),
        "runtime_start_s": times.get("create_runtime", 0.0) - times.get("compile", 0.0),
        "lava_steps": run.steps,
        "latency_steps": run.latency,
        "processes": len(run.processes),
        "process_kinds": kinds,
        "relays": len(run.relays),
        "peak_pss_gib": sampler.peak / 2**30,
        "parent_max_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "firing_rate": spikes / (neurons * samples),
        "neuron_groups": len(run.spikes),
        "quantize_notes": len(q.notes),
    }
    result["run_s"] = wall - result["build_s"] - times.get("create_runtime", 0.0)
    print(
        f"full width, device half (RB16), loihi2 fixed point, fast models, {samples} sample(s), T=4: "
        f"{wall:.1f} s (build {result['build_s']:.1f}, compile {result['compile_s']:.1f}, runtime "
        f"start {result['runtime_start_s']:.1f}, run+stop {result['run_s']:.1f} for {run.steps} "
        f"Lava steps); {len(run.processes)} Lava processes {kinds}; latency {run.latency} steps; "
        f"peak summed PSS {result['peak_pss_gib']:.2f} GiB; firing rate {result['firing_rate']:.3f}; "
        f"quantize {quant:.1f} s with {len(q.notes)} note(s)",
        flush=True,
    )
    for note in q.notes[:5]:
        print(f"  quantize note: {note}", flush=True)
    return result


# ---- (b) one process type, fast against stock ---------------------------------------------


def _lava_step_time(make, data: np.ndarray, out_shape, fast: bool, steps: int):
    """Seconds per Lava step of ``source -> make() -> sink`` (``make=None``: source -> sink),
    after one warm-up step (the models' lazy set-up); and the sink's stream."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from sbn.targets.lava.loihi import fixed_run_cfg

    src = Source(data=data)
    sink = Sink(shape=tuple(out_shape), buffer=steps + 1)
    if make is None:
        src.s_out.connect(sink.a_in)
    else:
        proc, a_in, a_out = make()
        src.s_out.connect(a_in)
        a_out.connect(sink.a_in)
    src.create_runtime(run_cfg=fixed_run_cfg(fast))
    try:
        src.run(condition=RunSteps(num_steps=1))
        t = time.perf_counter()
        src.run(condition=RunSteps(num_steps=steps))
        per_step = (time.perf_counter() - t) / steps
        out = np.asarray(sink.data.get()).copy()
    finally:
        src.stop()
    return per_step, out


def _compare(name: str, make, data, out_shape, steps: int, baseline: float, kernels=None) -> dict:
    """Fast against stock, one Lava step each; ``kernels``: (stock, fast) callables of the two
    models' arithmetic alone, timed outside Lava (as bench_lava.py times its kernels)."""
    fast, out_fast = _lava_step_time(make, data, out_shape, True, steps)
    stock, out_stock = _lava_step_time(make, data, out_shape, False, steps)
    identical = bool(np.array_equal(out_fast, out_stock))
    nonzero = float(np.count_nonzero(out_fast)) / out_fast.size
    res = {
        "name": name,
        "stock_ms": stock * 1e3,
        "fast_ms": fast * 1e3,
        "baseline_ms": baseline * 1e3,
        "speedup": stock / fast,
        "bit_identical": identical,
        "nonzero_outputs": nonzero,
    }
    # net of the pass-through's cost (ports, synchronisation); meaningless where the fast step
    # is within noise of the pass-through, so only where it exceeds it by a fifth
    res["speedup_net"] = (stock - baseline) / (fast - baseline) if fast > 1.2 * baseline else None
    line = (
        f"{name:44s} stock {stock * 1e3:8.2f}  fast {fast * 1e3:7.3f}  pass-through "
        f"{baseline * 1e3:6.3f} ms/step  {stock / fast:6.1f}x"
    )
    line += f" (net {res['speedup_net']:.0f}x)" if res["speedup_net"] else " (net: n/a)"
    if kernels is not None:
        ks, ko = _best(kernels[0], 3), _best(kernels[1], 20)
        res.update(
            kernel_stock_ms=ks[0] * 1e3,
            kernel_fast_ms=ko[0] * 1e3,
            kernel_speedup=ks[0] / ko[0],
            kernel_identical=bool(np.array_equal(ks[1], ko[1])),
        )
        line += f"; arithmetic alone {ks[0] * 1e3:.1f} vs {ko[0] * 1e3:.2f} ms = {res['kernel_speedup']:.0f}x"
    print(f"{line}; bit-identical: {identical} (non-zero outputs {nonzero:.0%})", flush=True)
    return res


def _best(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _conv_kernels(weight, spikes, k):
    """The two Conv models' arithmetic on one frame: ``PyConvModelFixed`` (Lava's ``conv``
    then a 24-bit wrap) and ``PyConvModelFixedSbnFast`` (``IntConv`` and its ``wrap24``)."""
    from lava.proc.conv import utils

    from sbn.targets.lava.loihi.int_conv import IntConv, warm_up
    from sbn.targets.lava.loihi.models import wrap24

    warm_up()
    conv = IntConv(weight.astype(np.int32), 1, k // 2, 1, 1)
    s = spikes.astype(bool)

    def stock():
        return utils.signed_clamp(utils.conv(s, weight, (k, k), (1, 1), (k // 2, k // 2), (1, 1), 1), bits=24)

    def fast():
        return wrap24(conv(s))

    return stock, fast


def bench_processes(steps: int) -> list[dict]:
    from lava.proc.conv.process import Conv
    from lava.proc.lif.process import LIFReset
    from lava.proc.sparse.process import DelaySparse

    from sbn.targets.lava.loihi.network import _identity

    rng = np.random.default_rng(0)
    n = steps + 1
    results = []

    def base(shape, data):
        return _lava_step_time(None, data, shape, True, steps)[0]

    for label, (x, y, cin), cout, k, e in [
        ("3x3 conv 64->64 on 32x32", (32, 32, 64), 64, 3, 2),
        ("1x1 conv 1024->256 on 8x8", (8, 8, 1024), 256, 1, 1),
    ]:
        weight = (rng.integers(-128, 128, size=(cout, k, k, cin)) * 2**e).astype(np.int32)
        for density in (0.1, 0.2):
            data = (rng.random((x, y, cin, n)) < density).astype(np.int32)
            baseline = base((x, y, cin), data)

            def make(weight=weight, shape=(x, y, cin), k=k):
                conv = Conv(
                    weight=weight,
                    input_shape=shape,
                    padding=(k // 2, k // 2),
                    stride=(1, 1),
                    weight_exp=0,
                    num_weight_bits=8,
                    num_message_bits=0,
                )
                return conv, conv.s_in, conv.a_out

            results.append(
                _compare(
                    f"Conv {label}, {density:.0%} spikes",
                    make,
                    data,
                    (x, y, cout),
                    steps,
                    baseline,
                    _conv_kernels(weight, data[..., 0], k),
                )
            )

    size = 65536
    shape = (64, 32, 32)  # 65536 neurons in Lava's (X, Y, C)
    # LIFReset: graded synaptic input so a fair share fires (vth 100 -> 6400 state units)
    data = rng.integers(0, 200, size=(*shape, n)).astype(np.int32)
    baseline = base(shape, data)

    def make_lif():
        lif = LIFReset(
            shape=shape,
            du=4095,
            dv=410,
            vth=100,
            bias_mant=np.zeros(shape, np.int32),
            bias_exp=np.zeros(shape, np.int32),
            reset_interval=4,
            reset_offset=1,
        )
        return lif, lif.a_in, lif.s_out

    results.append(_compare(f"LIFReset {size} neurons (T=4 reset)", make_lif, data, shape, steps, baseline))

    data = (rng.random((size, n)) < 0.2).astype(np.int32)
    baseline = base((size,), data)

    def make_delay():
        syn = DelaySparse(
            weights=_identity(size, 64), delays=_identity(size, 2, int), max_delay=2, weight_exp=0
        )
        return syn, syn.s_in, syn.a_out

    results.append(
        _compare(f"DelaySparse identity {size}, delay 2", make_delay, data, (size,), steps, baseline)
    )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-layers", action="store_true", help="skip the per-process comparison")
    parser.add_argument("--samples", type=int, default=1, help="samples through the full network")
    parser.add_argument("--steps", type=int, default=20, help="Lava steps timed per process")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    machine = {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(f"{machine['host']} {machine['cpu']}, {machine['cores']} cores, {machine['date']}", flush=True)
    out = {"machine": machine, "command": " ".join(sys.argv)}
    if not args.skip_layers:
        out["processes"] = bench_processes(args.steps)
    if not args.skip_full:
        out["full"] = bench_full(args.samples)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
