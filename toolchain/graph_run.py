"""Any NIR graph on given input streams, in Lava or the reference executor, with a report.

    run = run_graph(load_nir(path), feeds, backend="lava", dt=None)
    report = graph_report(run, source=path, inputs=input_path)     # sbn.sim-graph/1

This is `sbn sim GRAPH.nir --input X.npy`: for graphs from other frameworks as much as ours.
With the Lava backend the executor runs too, as a cross-check (outputs must be identical);
firing rates are counted where the graph ran (in Lava by its processes).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np

from sbn import __version__
from sbn.errors import ConfigError
from sbn.graph import conventions, execute, node_types
from sbn.graph.schedule import choose_dt, schedule, unstable_nodes

SCHEMA = "sbn.sim-graph/1"
BACKENDS = ("lava", "executor")

log = logging.getLogger(__name__)


@dataclass
class GraphRun:
    outputs: dict[str, np.ndarray]  # Output name -> [T, B, ...]
    backend: str
    dt: float
    dt_source: str  # "--dt", "graph" (its sbn.dt) or "default" (NIR's 1e-4)
    time_steps: int
    samples: int
    firing_rates: dict[str, float]  # spiking node -> spikes / (neurons x T x samples)
    unstable: dict[str, float]  # node -> dt / tau, where > 1
    wall_s: float
    processes: int | None = None
    latency_steps: dict[str, int] = field(default_factory=dict)
    #: Lava only: the executor's outputs equal Lava's, value for value
    executor_outputs_identical: bool | None = None


def input_shapes(graph: nir.NIRGraph) -> dict[str, tuple[int, ...]]:
    """Input node name -> the shape of one sample at one step."""
    sched = schedule(graph)
    shapes = {}
    for name in sched.inputs:
        declared = (graph.nodes[name].input_type or {}).get("input")
        if declared is None:
            raise ConfigError(f"Input node {name!r} declares no shape; cannot check the input file")
        shapes[name] = tuple(int(d) for d in np.atleast_1d(declared))
    return shapes


def run_graph(
    graph: nir.NIRGraph,
    feeds: dict[str, np.ndarray],
    *,
    backend: str = "lava",
    dt: float | None = None,
    fuse: str = "block",
    batch_size: int = 16,
) -> GraphRun:
    """Run ``graph`` on ``feeds`` (Input name -> [T, B, *shape])."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    sched = schedule(graph)
    stated = conventions.graph_dt(graph.metadata)
    source = "--dt" if dt is not None else ("graph" if stated is not None else "default")
    if dt is None and stated is None:
        dt = conventions.DEFAULT_DT  # the caller notes it; no second warning from choose_dt
    step = choose_dt(graph, sched.nodes, dt)
    steps, samples = next(iter(feeds.values())).shape[:2]
    t0 = time.perf_counter()
    executed = execute(graph, feeds, dt=step, record=True)
    if backend == "executor":
        rates = {
            n: float(executed.trace[n].mean())
            for n, node in sched.nodes.items()
            if isinstance(node, node_types.SPIKING) and n in executed.trace
        }
        return GraphRun(
            executed.outputs,
            backend,
            step,
            source,
            steps,
            samples,
            rates,
            unstable_nodes(sched.nodes, step),
            time.perf_counter() - t0,
        )
    from sbn.targets.lava import simulate

    t0 = time.perf_counter()
    lava = simulate(graph, feeds, fuse=fuse, dt=step, batch_size=batch_size)
    wall = time.perf_counter() - t0
    identical = all(np.array_equal(lava.outputs[o], executed.outputs[o]) for o in executed.outputs)
    return GraphRun(
        lava.outputs,
        backend,
        step,
        source,
        steps,
        samples,
        lava.firing_rates,
        unstable_nodes(sched.nodes, step),
        wall,
        lava.processes,
        dict(lava.latency),
        identical,
    )


def graph_report(run: GraphRun, *, source: str, inputs: str, outputs_file: str | None) -> dict[str, Any]:
    """The ``sbn.sim-graph/1`` report: what ran, how, and what each Output produced."""
    return {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "graph": source,
        "inputs": inputs,
        "outputs_file": outputs_file,
        "backend": run.backend,
        "dt": run.dt,
        "dt_source": run.dt_source,
        "time_steps": run.time_steps,
        "samples": run.samples,
        "processes": run.processes,
        "latency_steps": run.latency_steps,
        "executor_outputs_identical": run.executor_outputs_identical,
        "outputs": {
            name: {
                "shape": list(v.shape),
                "mean": float(v.mean()),
                "nonzero": float(np.count_nonzero(v) / max(v.size, 1)),
            }
            for name, v in run.outputs.items()
        },
        "firing_rates": run.firing_rates,
        "unstable_nodes": run.unstable,
        "wall_s": run.wall_s,
    }
