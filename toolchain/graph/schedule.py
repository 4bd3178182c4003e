"""How a NIR graph is stepped: the one schedule the reference executor and every backend share.

``schedule(graph)`` flattens nested graphs, picks the back edges of every cycle, orders the
nodes and lists each node's same-step and previous-step predecessors. ``check_inputs`` and
``sum_inputs`` are the input rules. The executor (``sbn.graph.executor``) and the Lava
planner (``sbn.targets.lava.plan``) both take these, so the two cannot drift apart again
(they once did: Lava cut the braille RNN's loop at the other edge, so the recurrent Affine's
bias was missing at t = 0).

The rules (docs/export.md):

- Zero delay: at step t every node consumes its predecessors' step-t outputs, in
  topological order (ties broken by name). Several incoming edges are summed, forward
  predecessors by name, then back edges by name.
- A cycle is cut where it leaves a stateful node (neuron, integrator, Delay): that edge
  carries its source's output of step t - 1 (nothing at t = 0), so a recurrent weight sees
  the previous step's spikes. A cycle with no stateful node is cut at the back edges of a
  depth-first search from the Input nodes (name order), then the other roots, then all nodes.
- Nested NIRGraph nodes are inlined: inner names become "outer.inner"; their own Input and
  Output nodes pass values through. The graph's Inputs and Outputs are the top-level ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import networkx as nx
import nir
import numpy as np

from sbn.errors import GraphError
from sbn.graph import conventions, node_types

log = logging.getLogger(__name__)

__all__ = [
    "Schedule",
    "schedule",
    "flatten_graph",
    "dfs_back_edges",
    "check_inputs",
    "sum_inputs",
    "zeros_input",
    "choose_dt",
    "unstable_nodes",
]


@dataclass(frozen=True)
class Schedule:
    """A graph ready to step, as plain data."""

    nodes: dict[str, nir.NIRNode]  # flat name -> node
    edges: list[tuple[str, str]]  # between flat names
    order: list[str]  # execution order within a step
    preds: dict[str, list[str]]  # same-step predecessors, by name
    back_preds: dict[str, list[str]]  # previous-step predecessors (cut back edges), by name
    inputs: list[str]  # the graph's own Input nodes, by name
    outputs: list[str]  # the graph's own Output nodes, by name

    @property
    def back_edges(self) -> list[tuple[str, str]]:
        return sorted((s, d) for d, sources in self.back_preds.items() for s in sources)


def schedule(graph: nir.NIRGraph) -> Schedule:
    """The graph's schedule; GraphError if it has no Input or no Output node."""
    flat, edges = flatten_graph(graph)
    inputs = sorted(n for n, node in graph.nodes.items() if isinstance(node, nir.Input))
    outputs = sorted(n for n, node in graph.nodes.items() if isinstance(node, nir.Output))
    if not outputs:
        raise GraphError("the graph has no Output node: nothing to compute")
    if not inputs:
        raise GraphError("the graph has no Input node: nothing to feed")
    g = nx.DiGraph()
    g.add_nodes_from(flat)
    g.add_edges_from(edges)
    back = cut_cycles(g, flat, inputs)
    dag = nx.DiGraph()
    dag.add_nodes_from(g)
    dag.add_edges_from(e for e in g.edges if e not in back)
    return Schedule(
        nodes=flat,
        edges=list(edges),
        order=list(nx.lexicographical_topological_sort(dag)),
        preds={n: sorted(dag.predecessors(n)) for n in g},
        back_preds={n: sorted(s for s, d in back if d == n) for n in g},
        inputs=inputs,
        outputs=outputs,
    )


def cut_cycles(g: nx.DiGraph, flat: dict[str, nir.NIRNode], inputs: list[str]) -> set[tuple[str, str]]:
    """The back edges: edges of a cycle that leave a stateful node, then DFS back edges of
    what stays cyclic."""
    if nx.is_directed_acyclic_graph(g):
        return set()
    back: set[tuple[str, str]] = set()
    for comp in nx.strongly_connected_components(g):
        back |= {(u, v) for u, v in g.edges(comp) if v in comp and isinstance(flat[u], node_types.STATEFUL)}
    rest = nx.DiGraph()
    rest.add_nodes_from(g)
    rest.add_edges_from(e for e in g.edges if e not in back)
    if not nx.is_directed_acyclic_graph(rest):  # a cycle without any stateful node on it
        roots = sorted(inputs) + sorted(n for n in g if g.in_degree(n) == 0) + sorted(g)
        back |= dfs_back_edges(rest, roots)
    return back


def dfs_back_edges(g: nx.DiGraph, roots: list[str]) -> set[tuple[str, str]]:
    """Edges that close a cycle in a depth-first search from ``roots`` (in that order)."""
    colour: dict[str, int] = {}  # 1: on the stack, 2: done
    back: set[tuple[str, str]] = set()
    for root in roots:
        if root in colour or root not in g:
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


# ---- flattening --------------------------------------------------------------------------
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
        edges.append(
            (
                _endpoint(graph, ends, prefix, src, outgoing=True),
                _endpoint(graph, ends, prefix, dst, outgoing=False),
            )
        )
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
    chosen = [c for c in candidates if c == f"{prefix}{sub}.{port}"] if port else candidates
    if len(chosen) != 1:
        kind = "Output" if outgoing else "Input"
        raise GraphError(
            f"edge end {name!r}: subgraph {sub!r} needs exactly one matching {kind} node, found {len(chosen)}"
        )
    return chosen[0]


# ---- inputs ------------------------------------------------------------------------------
def check_inputs(graph: nir.NIRGraph, names: list[str], inputs) -> dict[str, np.ndarray]:
    """``inputs`` (one array, or a dict by Input name) as float64 [T, B, *shape] per Input,
    checked against the Input nodes' declared shapes and each other's [T, B]."""
    if isinstance(inputs, dict):
        given = dict(inputs)
    elif len(names) == 1:
        given = {names[0]: inputs}
    else:
        raise GraphError(f"the graph has {len(names)} Input nodes ({', '.join(names)}): pass a dict by name")
    missing, extra = sorted(set(names) - set(given)), sorted(set(given) - set(names))
    if missing or extra:
        raise GraphError(
            f"inputs do not match the graph's Input nodes {names}: missing {missing}, unknown {extra}"
        )
    feeds, lengths = {}, set()
    for name in names:
        x = np.asarray(given[name], dtype=np.float64)
        if x.ndim < 2:
            raise GraphError(f"input {name!r} must be [T, B, ...], got shape {tuple(x.shape)}")
        declared = (graph.nodes[name].input_type or {}).get("input")
        if declared is not None:
            want = tuple(int(d) for d in np.atleast_1d(declared))
            if tuple(x.shape[2:]) != want:
                raise GraphError(
                    f"input {name!r} has shape {tuple(x.shape)}; expected [T, B, "
                    f"{', '.join(str(d) for d in want)}]"
                )
        feeds[name] = x
        lengths.add(x.shape[:2])
    if len(lengths) > 1:
        raise GraphError(f"inputs disagree on [T, B]: {sorted(lengths)}")
    steps, batch = next(iter(lengths))
    if steps < 1 or batch < 1:
        raise GraphError(f"inputs need at least one time step and one sample, got T = {steps}, B = {batch}")
    return feeds


def sum_inputs(name: str, parts: list[np.ndarray], sources: list[str]) -> np.ndarray | None:
    """What ``name`` receives: the sum of ``parts`` in the given order (None when empty)."""
    if not parts:
        return None
    total = parts[0]
    for p in parts[1:]:
        if p.shape != total.shape:
            raise GraphError(
                f"node {name!r} sums inputs of different shapes {total.shape[1:]} and "
                f"{p.shape[1:]} (from {sources})"
            )
        total = total + p
    return total


def zeros_input(name: str, node: nir.NIRNode, batch: int) -> np.ndarray:
    """The input of a node that receives nothing (e.g. a bias-only Affine): zeros of its
    declared input shape."""
    declared = (node.input_type or {}).get("input")
    if declared is None:
        raise GraphError(f"node {name!r} receives nothing and declares no input shape")
    return np.zeros((batch, *(int(d) for d in np.atleast_1d(declared))))


def choose_dt(graph: nir.NIRGraph, flat: dict[str, nir.NIRNode], dt: float | None) -> float:
    """``dt`` if given, else the graph's ``sbn.dt``, else ``DEFAULT_DT`` (with a warning
    when the graph has dynamics that depend on it)."""
    if dt is None:
        dt = conventions.graph_dt(graph.metadata)
    if dt is None:
        dt = conventions.DEFAULT_DT
        if any(isinstance(n, node_types.STATEFUL) for n in flat.values()):
            log.warning("graph states no %s; stepping at dt = %g", conventions.KEY_DT, dt)
    if not dt > 0:
        raise GraphError(f"dt must be > 0, got {dt}")
    warn_if_unstable(flat, float(dt))
    return float(dt)


def unstable_nodes(flat: dict[str, nir.NIRNode], dt: float) -> dict[str, float]:
    """Node -> the largest dt / tau among its time constants, for every node where that
    exceeds 1: forward Euler overshoots there (the potential's sign flips each step), which
    the continuous equations never do."""
    found = {}
    for name, node in flat.items():
        taus = [getattr(node, key) for key in ("tau", "tau_mem", "tau_syn") if hasattr(node, key)]
        if not taus:
            continue
        # tau <= 0 or non-finite is no time constant at all: the backends refuse it by name
        finite = [
            t[np.isfinite(t) & (t > 0)] for t in (np.asarray(t, dtype=np.float64).ravel() for t in taus)
        ]
        ratio = max(float(np.max(dt / t, initial=0.0)) for t in finite)
        if ratio > 1:
            found[name] = ratio
    return found


def warn_if_unstable(flat: dict[str, nir.NIRNode], dt: float) -> list[str]:
    """Log (and return) one warning per node whose dt / tau exceeds 1."""
    messages = [
        f"node {name!r}: dt / tau = {ratio:.3g} > 1 at dt = {dt:g}; forward Euler is "
        "unstable there (give the dt the graph was made for: --dt)"
        for name, ratio in unstable_nodes(flat, dt).items()
    ]
    for m in messages:
        log.warning(m)
    return messages
