"""``simulate_fixed(graph, q, images)``: the device graph in fixed point on Lava's processes.

Runs a quantised device graph (``sbn.targets.quantize``) as Lava's own ``Conv``,
``DelaySparse``, ``LIFReset`` and ``io`` processes (``network``), under the toolchain's fast
models (default) or Lava's stock bit-accurate ones (``fast=False``), and reads back:

- every Output's spikes, [T, B, *shape] (uint8), from its sink;
- every neuron group's spikes, [T, B, *shape], recorded inside the Lava processes (fast
  models) or from a sink per group (``probe=True``, any models): the spike counts and firing
  rates that energy and traffic use come from here, measured in the run;
- per recorded group (fast models), how often a neuron's current ``u`` wrapped in the
  samples' steps (``u_wraps``: Lava wraps it silently where a step's input is too large).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nir
import numpy as np

from sbn.errors import SimulationError
from sbn.graph.schedule import flatten_graph
from sbn.targets.lava.loihi.models import fixed_run_cfg
from sbn.targets.lava.loihi.network import FixedNetwork, build, from_lava, quantize_images
from sbn.targets.lava.runtime import run_network
from sbn.targets.quantize import Quantized, check_matches


@dataclass
class FixedRun:
    outputs: dict[str, np.ndarray]  # Output node -> [T, B, *shape] spikes
    spikes: dict[str, np.ndarray]  # neuron group -> [T, B, *shape] spikes (when recorded)
    start: dict[str, int]  # node -> Lava step of its reference step 0
    delays: dict[str, int]  # projection -> synaptic delay
    steps: int
    processes: dict[str, str]  # process name -> Lava class
    relays: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    #: neuron group -> neuron-steps whose current wrapped (recorded groups only)
    u_wraps: dict[str, int] = field(default_factory=dict)

    @property
    def latency(self) -> int:
        return max(self.start.values())


def _windows(stream: np.ndarray, first: int, samples: int, t: int) -> np.ndarray:
    """[steps, *shape] indexed by Lava step - 1 -> [T, B, *shape]."""
    seq = stream[first - 1 : first - 1 + samples * t]
    return seq.reshape(samples, t, *seq.shape[1:]).swapaxes(0, 1)


def simulate_fixed(
    graph: nir.NIRGraph,
    q: Quantized,
    images: np.ndarray,
    *,
    time_steps: int,
    fast: bool = True,
    probe: bool = False,
    record: bool = True,
) -> FixedRun:
    """Run ``q`` on ``images`` [B, C, H, W] in [0, 1] (direct encoding: the image at every step)."""
    check_matches(q, graph)
    if len(q.inputs) != 1:
        raise SimulationError(f"the fixed-point path feeds one Input node; the graph has {sorted(q.inputs)}")
    images = np.asarray(images, dtype=np.float64)
    if images.ndim < 2 or images.shape[0] < 1:
        raise SimulationError(f"images must be [B, ...] with B >= 1, got shape {images.shape}")
    ((name, shape),) = q.inputs.items()
    if tuple(images.shape[1:]) != tuple(shape):
        raise SimulationError(
            f"images have shape {tuple(images.shape[1:])}; Input {name!r} takes {tuple(shape)}"
        )
    if time_steps < 1:
        raise SimulationError(f"time steps must be >= 1, got {time_steps}")
    pixels = quantize_images(images, q.input_scale)
    frames = {name: np.broadcast_to(pixels, (time_steps, *pixels.shape))}
    nodes, _ = flatten_graph(graph)
    tmp = tempfile.mkdtemp(prefix="sbn-spikes-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    t0 = time.perf_counter()
    try:
        net = build(q, nodes, frames, time_steps, record_dir=tmp if (record and fast) else None, probe=probe)
        streams = run_network(net.anchor, net.run_steps, fixed_run_cfg(fast), lambda: _read_sinks(net))
        wall = time.perf_counter() - t0
        return _result(net, streams, wall)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_sinks(net: FixedNetwork) -> dict[str, np.ndarray]:
    """Neuron -> its sink's stream, [steps, *Lava shape] (int32 -> uint8)."""
    return {n: np.moveaxis(np.asarray(s.data.get()), -1, 0).astype(np.uint8) for n, s in net.sinks.items()}


def _result(net: FixedNetwork, streams: dict[str, np.ndarray], wall: float) -> FixedRun:
    q, tm, t, b = net.q, net.timing, net.time_steps, net.samples
    spikes, wraps = {}, {}
    for n, rec in net.recorders.items():
        wraps[n] = int(np.asarray(rec.open_wraps("r")).sum())
        data = np.array(rec.open("r"))
        spikes[n] = from_lava(data.reshape(b, t, *data.shape[1:]).swapaxes(0, 1), q.neurons[n].shape)
    for n, stream in streams.items():
        sunk = from_lava(_windows(stream, tm.start[n], b, t), q.neurons[n].shape)
        if n in spikes and not np.array_equal(spikes[n], sunk):  # two read-outs of one group
            raise SimulationError(f"node {n}: the spikes recorded in its process differ from its sink's")
        spikes[n] = sunk
    outputs = {o: spikes[n] for o, n in q.outputs.items()}
    return FixedRun(
        outputs=outputs,
        spikes=spikes,
        start=dict(tm.start),
        delays=dict(tm.delay),
        steps=net.run_steps,
        processes=dict(net.kinds),
        relays=list(net.relays),
        wall_s=wall,
        u_wraps=wraps,
    )
