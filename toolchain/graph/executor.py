"""The reference executor: what a NIR graph means, step by step, in numpy float64.

``execute(graph, inputs)`` runs a graph over the T steps of ``inputs`` ([T, B, *shape]) and
returns every Output node's values ([T, B, ...]). It is the project's ground truth for NIR
graphs: the tests compare the exported graphs with the PyTorch models through it, and the
Lava target compares its simulation with it.

Semantics (also in docs/export.md):

- The schedule (``sbn.graph.schedule``, shared with every backend): zero delay, nodes in
  topological order, several incoming edges summed; a cycle (recurrent connection, e.g. the
  NIR paper's braille RNN) is cut where it leaves a stateful node, so a recurrent weight sees
  the previous step's output (nothing at t = 0); nested NIRGraph nodes are inlined.
- Neurons follow NIR's equations, forward Euler at ``dt`` (see ``sbn.graph.nodes``): a spike
  when v > v_threshold (NIR's strict rule), then v = v_reset in the same step (hard reset).
  Every call starts from rest. Graphs exported by the toolchain choose v_threshold so that
  this strict rule equals the model's u >= V_th (``sbn.graph.conventions.lif_threshold``).
- dt: the ``dt`` argument if given, else the graph's ``sbn.dt`` metadata, else
  ``DEFAULT_DT`` = 1e-4 (the NIR paper's norse runs). Sinabs graphs (IF with r = 1) mean
  dt = 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nir
import numpy as np

from sbn.errors import GraphError
from sbn.graph import conventions, node_types
from sbn.graph.schedule import check_inputs, choose_dt, schedule, sum_inputs, zeros_input

__all__ = ["Execution", "execute"]


@dataclass
class Execution:
    """What one run produced, every array [T, B, ...] in float64."""

    outputs: dict[str, np.ndarray]
    #: every node's output over time (record=True only)
    trace: dict[str, np.ndarray] = field(default_factory=dict)
    #: membrane potential after reset of every neuron / integrator node (record=True only)
    voltages: dict[str, np.ndarray] = field(default_factory=dict)
    dt: float = conventions.DEFAULT_DT


def execute(
    graph: nir.NIRGraph,
    inputs: np.ndarray | dict[str, np.ndarray],
    *,
    record: bool = False,
    dt: float | None = None,
) -> Execution:
    """Run ``graph`` over the T steps of ``inputs`` ([T, B, *input shape]).

    ``inputs`` is one array when the graph has one Input node, else a dict by Input name.
    """
    plan = schedule(graph)
    feeds = check_inputs(graph, plan.inputs, inputs)
    dt = choose_dt(graph, plan.nodes, dt)
    ops = {name: node_types.build(name, plan.nodes[name], dt) for name in plan.order}
    steps, batch = next(iter(feeds.values())).shape[:2]

    state = {name: ops[name].init(batch) for name in plan.order}
    previous: dict[str, np.ndarray] = {}
    trace: dict[str, list[np.ndarray]] = {name: [] for name in plan.order}
    volts: dict[str, list[np.ndarray]] = {n: [] for n in plan.order if ops[n].voltage is not None}
    for t in range(steps):
        current: dict[str, np.ndarray] = {}
        for name in plan.order:
            node = plan.nodes[name]
            if name in feeds:
                x = feeds[name][t]
            else:
                late = [p for p in plan.back_preds[name] if p in previous]  # none at t = 0
                parts = [current[p] for p in plan.preds[name]] + [previous[p] for p in late]
                x = sum_inputs(name, parts, plan.preds[name] + late)
            if x is None:  # no input at all (e.g. a bias-only node): zeros of its input type
                x = zeros_input(name, node, batch)
            try:
                y, state[name] = ops[name].step(x, state[name])
            except ValueError as exc:  # numpy shape errors: say which node
                raise GraphError(
                    f"node {name!r} ({type(node).__name__}) cannot take an input "
                    f"of shape {tuple(x.shape[1:])} per sample: {exc}"
                ) from None
            if t == 0:
                _check_output_shape(name, node, y)
            current[name] = y
            if record or name in plan.outputs:
                trace[name].append(y)
            if record and name in volts:
                volts[name].append(ops[name].voltage(state[name]).copy())
        previous = current
    stack = {name: np.stack(v) for name, v in trace.items() if v}
    return Execution(
        outputs={name: stack[name] for name in plan.outputs},
        trace=stack if record else {},
        voltages={name: np.stack(v) for name, v in volts.items() if v} if record else {},
        dt=dt,
    )


# ---- checks ------------------------------------------------------------------------------
def _check_output_shape(name: str, node, y: np.ndarray) -> None:
    types = node.output_type if isinstance(node.output_type, dict) else {}
    declared = types.get("output")
    if declared is None:
        return
    want = tuple(int(d) for d in np.atleast_1d(np.asarray(declared)))
    if tuple(y.shape[1:]) != want:
        raise GraphError(
            f"node {name!r} ({type(node).__name__}) produced shape {tuple(y.shape[1:])} per "
            f"sample but declares {want}"
        )
