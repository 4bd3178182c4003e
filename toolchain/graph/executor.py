"""The reference executor: what a NIR graph means, step by step, in numpy float64.

``execute(graph, inputs)`` runs a graph over the T steps of ``inputs`` ([T, B, *shape]) and
returns every Output node's values ([T, B, ...]). It is the project's ground truth for NIR
graphs: the tests compare the exported graphs with the PyTorch models through it, and the
Lava target compares its simulation with it.

Semantics (also in docs/export.md):

- Zero delay. At step t every node consumes its predecessors' step-t outputs; nodes run in
  topological order. A node with several incoming edges receives their sum.
- Cycles (recurrent connections, e.g. the NIR paper's braille RNN) are cut where they
  leave a stateful node (a neuron, integrator or Delay): such an edge carries its source's
  output of step t-1 (nothing at t = 0), so a recurrent weight sees the previous step's
  spikes. A cycle with no stateful node is cut at the back edges of a depth-first search
  from the Input nodes, in name order.
- Neurons follow NIR's equations, forward Euler at ``dt`` (see ``sbn.graph.nodes``): a spike
  when v > v_threshold (NIR's strict rule), then v = v_reset in the same step (hard reset).
  Every call starts from rest. Graphs exported by the toolchain choose v_threshold so that
  this strict rule equals the model's u >= V_th (``sbn.graph.conventions.lif_threshold``).
- dt: the ``dt`` argument if given, else the graph's ``sbn.dt`` metadata, else
  ``DEFAULT_DT`` = 1e-4 (the NIR paper's norse runs). Sinabs graphs (IF with r = 1) mean
  dt = 1.
- Nested NIRGraph nodes are flattened first (inner names become "outer.inner"); their own
  Input and Output nodes pass values through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import networkx as nx
import nir
import numpy as np

from sbn.errors import GraphError
from sbn.graph import conventions, nodes

log = logging.getLogger(__name__)

__all__ = ["Execution", "execute", "flatten_graph", "SUPPORTED"]

SUPPORTED = nodes.SUPPORTED


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
    flat_nodes, flat_edges = flatten_graph(graph)
    top_inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    top_outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if not top_outputs:
        raise GraphError("the graph has no Output node: nothing to compute")
    if not top_inputs:
        raise GraphError("the graph has no Input node: nothing to feed")
    feeds = _check_inputs(graph, top_inputs, inputs)
    dt = _choose_dt(graph, flat_nodes, dt)

    order, forward, back = _schedule(flat_nodes, flat_edges, top_inputs)
    ops = {name: nodes.build(name, flat_nodes[name], dt) for name in order}
    steps, batch = next(iter(feeds.values())).shape[:2]
    if steps < 1 or batch < 1:
        raise GraphError(f"inputs need at least one time step and one sample, got T = {steps}, "
                         f"B = {batch}")

    state = {name: ops[name].init(batch) for name in order}
    previous: dict[str, np.ndarray] = {}
    trace: dict[str, list[np.ndarray]] = {name: [] for name in order}
    volts: dict[str, list[np.ndarray]] = {n: [] for n in order if ops[n].voltage is not None}
    for t in range(steps):
        current: dict[str, np.ndarray] = {}
        for name in order:
            if name in feeds:
                x = feeds[name][t]
            else:
                x = _gather(name, forward[name], back[name], current, previous)
            if x is None:  # no input at all (e.g. a bias-only node): zeros of its input type
                x = np.zeros((batch, *_input_shape(name, flat_nodes[name])))
            try:
                y, state[name] = ops[name].step(x, state[name])
            except ValueError as exc:  # numpy shape errors: say which node
                raise GraphError(
                    f"node {name!r} ({type(flat_nodes[name]).__name__}) cannot take an input "
                    f"of shape {tuple(x.shape[1:])} per sample: {exc}"
                ) from None
            if t == 0:
                _check_output_shape(name, flat_nodes[name], y)
            current[name] = y
            if record or name in top_outputs:
                trace[name].append(y)
            if record and name in volts:
                volts[name].append(ops[name].voltage(state[name]).copy())
        previous = current
    stack = {name: np.stack(v) for name, v in trace.items() if v}
    return Execution(
        outputs={name: stack[name] for name in top_outputs},
        trace=stack if record else {},
        voltages={name: np.stack(v) for name, v in volts.items() if v} if record else {},
        dt=dt,
    )


# ---- graph preparation -------------------------------------------------------------------
def flatten_graph(graph: nir.NIRGraph, prefix: str = ""):
    """Inline nested NIRGraph nodes: (nodes by flat name, edges between flat names)."""
    flat: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    ends: dict[str, tuple[list[str], list[str]]] = {}  # subgraph -> (its inputs, outputs)
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = flatten_graph(node, full + ".")
            flat.update(inner_nodes)
            edges.extend(inner_edges)
            ends[name] = (
                [full + "." + n for n, m in node.nodes.items() if isinstance(m, nir.Input)],
                [full + "." + n for n, m in node.nodes.items() if isinstance(m, nir.Output)],
            )
        else:
            flat[full] = node
    for src, dst in graph.edges:
        edges.append((
            _endpoint(graph, ends, prefix, src, outgoing=True),
            _endpoint(graph, ends, prefix, dst, outgoing=False),
        ))
    return flat, edges


def _endpoint(graph, ends, prefix: str, name: str, outgoing: bool) -> str:
    """The flat name an edge end refers to: a node, a subgraph (its one Input/Output), or
    "subgraph.port"."""
    if name in graph.nodes and name not in ends:
        return prefix + name
    sub, _, port = name.partition(".") if name not in ends else (name, "", "")
    if sub not in ends:
        raise GraphError(f"edge refers to {name!r}, which is not a node of the graph")
    candidates = ends[sub][0 if not outgoing else 1]
    if port:
        chosen = [c for c in candidates if c == f"{prefix}{sub}.{port}"]
    else:
        chosen = candidates
    if len(chosen) != 1:
        kind = "Output" if outgoing else "Input"
        raise GraphError(
            f"edge end {name!r}: subgraph {sub!r} needs exactly one matching {kind} node, "
            f"found {len(chosen)}"
        )
    return chosen[0]


def _schedule(flat_nodes, edges, inputs: list[str]):
    """(topological order, forward predecessors, back-edge predecessors) per node."""
    g = nx.DiGraph()
    g.add_nodes_from(flat_nodes)
    g.add_edges_from(edges)
    back: set[tuple[str, str]] = set()
    if not nx.is_directed_acyclic_graph(g):
        # a recurrent connection sees its neuron's output of the previous step
        for comp in nx.strongly_connected_components(g):
            back |= {(u, v) for u, v in g.edges(comp)
                     if v in comp and isinstance(flat_nodes[u], nodes.TIMED)}
        rest = nx.DiGraph(e for e in g.edges if e not in back)
        if not nx.is_directed_acyclic_graph(rest):  # a cycle without any neuron on it
            roots = sorted(inputs) + sorted(n for n in g if g.in_degree(n) == 0)
            back |= dfs_back_edges(rest, [r for r in roots if r in rest] + sorted(rest.nodes))
    dag = nx.DiGraph()
    dag.add_nodes_from(g)
    dag.add_edges_from(e for e in g.edges if e not in back)
    order = list(nx.lexicographical_topological_sort(dag))
    forward = {n: sorted(dag.predecessors(n)) for n in g}
    backward = {n: sorted(s for s, d in back if d == n) for n in g}
    return order, forward, backward


def dfs_back_edges(g: nx.DiGraph, roots: list[str]) -> set[tuple[str, str]]:
    """Edges that close a cycle in a depth-first search from ``roots`` (in that order)."""
    colour: dict[str, int] = {}  # 1: on the stack, 2: done
    back: set[tuple[str, str]] = set()
    for root in roots:
        if root in colour:
            continue
        colour[root] = 1
        stack = [(root, iter(sorted(g.successors(root))))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
            elif colour.get(child) == 1:
                back.add((node, child))
            elif child not in colour:
                colour[child] = 1
                stack.append((child, iter(sorted(g.successors(child)))))
    return back


def _gather(name, forward, backward, current, previous):
    """The sum of a node's inputs at this step (back edges: the previous step's values)."""
    parts = [current[p] for p in forward]
    parts += [previous[p] for p in backward if p in previous]
    if not parts:
        return None
    total = parts[0]
    for p in parts[1:]:
        if p.shape != total.shape:
            raise GraphError(
                f"node {name!r} sums inputs of different shapes {total.shape[1:]} and "
                f"{p.shape[1:]} (from {forward + backward})"
            )
        total = total + p
    return total


# ---- checks ------------------------------------------------------------------------------
def _check_inputs(graph, names: list[str], inputs) -> dict[str, np.ndarray]:
    if isinstance(inputs, dict):
        given = dict(inputs)
    elif len(names) == 1:
        given = {names[0]: inputs}
    else:
        raise GraphError(
            f"the graph has {len(names)} Input nodes ({', '.join(names)}): pass a dict by name"
        )
    missing, extra = sorted(set(names) - set(given)), sorted(set(given) - set(names))
    if missing or extra:
        raise GraphError(
            f"inputs do not match the graph's Input nodes {names}: missing {missing}, "
            f"unknown {extra}"
        )
    feeds, lengths = {}, set()
    for name in names:
        x = np.asarray(given[name], dtype=np.float64)
        declared = graph.nodes[name].input_type.get("input")
        if declared is not None and tuple(x.shape[2:]) != tuple(int(d) for d in declared):
            raise GraphError(
                f"input {name!r} has shape {tuple(x.shape)}; expected [T, B, "
                f"{', '.join(str(int(d)) for d in declared)}]"
            )
        if x.ndim < 2:
            raise GraphError(f"input {name!r} must be [T, B, ...], got shape {tuple(x.shape)}")
        feeds[name] = x
        lengths.add(x.shape[:2])
    if len(lengths) > 1:
        raise GraphError(f"inputs disagree on [T, B]: {sorted(lengths)}")
    return feeds


def _choose_dt(graph, flat_nodes, dt: float | None) -> float:
    if dt is None:
        dt = conventions.graph_dt(graph.metadata)
    if dt is None:
        dt = conventions.DEFAULT_DT
        if any(isinstance(n, nodes.TIMED) for n in flat_nodes.values()):
            log.warning("graph states no %s; stepping at dt = %g", conventions.KEY_DT, dt)
    if not dt > 0:
        raise GraphError(f"dt must be > 0, got {dt}")
    return float(dt)


def _input_shape(name: str, node) -> tuple[int, ...]:
    declared = (node.input_type or {}).get("input")
    if declared is None:
        raise GraphError(f"node {name!r} receives nothing and declares no input shape")
    return tuple(int(d) for d in np.atleast_1d(declared))


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
