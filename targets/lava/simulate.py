"""``simulate(graph, inputs)``: run a NIR graph in Lava and return its Output streams.

The library entry point (the CLI and, later, Ray workers call it: arguments are plain data,
a ``nir.NIRGraph`` or a path and numpy arrays, and one call owns one Lava runtime at a time).
Samples are run in chunks of ``batch_size`` side by side; every chunk gets a fresh runtime, so
every sample starts at rest.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nir
import numpy as np

from sbn.errors import GraphError, SimulationError
from sbn.graph.schedule import check_inputs
from sbn.targets.lava.network import LavaNetwork
from sbn.targets.lava.plan import Plan, make_plan
from sbn.targets.lava.runtime import run_network

log = logging.getLogger(__name__)


@dataclass
class LavaRun:
    """What ``simulate`` returns; every array float64."""

    #: Output node -> its values at reference steps 0..T-1, [T, B, ...] (latency removed)
    outputs: dict[str, np.ndarray]
    #: Lava steps between a frame entering and each Output computing it
    latency: dict[str, int]
    #: Lava steps run per chunk (T + the largest latency)
    steps: int
    #: Lava processes (= OS processes for the models) per chunk
    processes: int
    #: alignment delays inserted: (receiving segment, source node, delay in steps)
    alignment: list[tuple[str, str, int]] = field(default_factory=list)
    wall_s: float = 0.0
    #: Output node -> the raw stream over Lava steps of the last chunk, [steps, B, ...]
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    #: spiking node -> spikes it emitted in Lava, over all samples and T steps
    spikes: dict[str, float] = field(default_factory=dict)
    #: spiking node -> its neuron-steps (neurons x T x samples): spikes / slots is its rate
    slots: dict[str, int] = field(default_factory=dict)

    @property
    def firing_rates(self) -> dict[str, float]:
        return {n: self.spikes[n] / self.slots[n] for n in self.spikes if self.slots.get(n)}


def load_graph(graph: nir.NIRGraph | str | os.PathLike) -> nir.NIRGraph:
    if isinstance(graph, nir.NIRGraph):
        return graph
    from sbn.graph.io import load_nir  # one-line GraphErrors for missing or corrupt files

    return load_nir(Path(graph))


def simulate(
    graph: nir.NIRGraph | str | os.PathLike,
    inputs: np.ndarray | dict[str, np.ndarray],
    *,
    fuse: str = "block",
    dt: float | None = None,
    batch_size: int = 16,
    plan: Plan | None = None,
) -> LavaRun:
    """Run ``graph`` in Lava over ``inputs`` ([T, B, *input shape], or a dict by Input name)."""
    graph = load_graph(graph)
    plan = plan or make_plan(graph, fuse=fuse, dt=dt)
    feeds = _feeds(graph, plan, inputs)
    steps_t, total = next(iter(feeds.values())).shape[:2]
    if batch_size < 1:
        raise SimulationError(f"batch size must be >= 1, got {batch_size}")
    run_steps = steps_t + plan.latency
    chunks: dict[str, list[np.ndarray]] = {o: [] for o in plan.outputs}
    raw: dict[str, np.ndarray] = {}
    spikes: dict[str, float] = {}
    t0 = time.perf_counter()
    for lo in range(0, total, batch_size):
        frames = {n: np.ascontiguousarray(f[:, lo : lo + batch_size]) for n, f in feeds.items()}
        net = LavaNetwork(plan, frames, steps_t, run_steps)
        record = run_network(net.anchor, run_steps, net.run_cfg(), net.read_record)
        raw = record.outputs
        for node, count in record.spikes.items():
            spikes[node] = spikes.get(node, 0.0) + count
        for o in plan.outputs:
            start = plan.output_latency(o)
            chunks[o].append(raw[o][start : start + steps_t])
    return LavaRun(
        outputs={o: np.concatenate(v, axis=1) for o, v in chunks.items()},
        latency={o: plan.output_latency(o) for o in plan.outputs},
        steps=run_steps,
        processes=len(plan.segments),
        alignment=[(seg, hop.source, hop.delay) for seg, hop in plan.aligned_hops],
        wall_s=time.perf_counter() - t0,
        raw=raw,
        spikes=spikes,
        slots={n: int(np.prod(plan.shapes[n])) * steps_t * total for n in spikes},
    )


def _feeds(graph: nir.NIRGraph, plan: Plan, inputs) -> dict[str, np.ndarray]:
    """The executor's input rules (``sbn.graph.schedule.check_inputs``), as SimulationErrors."""
    try:
        return check_inputs(graph, plan.inputs, inputs)
    except GraphError as exc:
        raise SimulationError(str(exc)) from None
