"""From a NIR graph to Lava processes: which nodes share a process, and the time alignment.

A *segment* is a set of NIR nodes that one Lava process runs. Inside a segment, nodes run in
topological order with zero delay, exactly as the reference executor does. Between segments,
values travel over Lava ports, and Lava delays every hop by one time step: a segment sends
at step s what it computed at step s - 1 (like Lava's ``Dense`` and ``Conv``).

Time alignment. Each segment gets a *start* c: the Lava step at which it computes reference
step 0. A segment with no incoming hop starts at 0; otherwise ``c = max(c(pred) + 1)`` over
the segments it receives from. A hop from a segment that starts earlier than ``c - 1`` (the
shorter branch of a residual block) is delayed on arrival by ``c - 1 - c(pred)`` steps in a
ring buffer, so that every node sums inputs of the same reference step. An Output node in a
segment starting at c then yields, at Lava step ``c + t``, the executor's value of step t:
Lava's stream equals the executor's shifted by the graph's latency c.

Granularity (``fuse``):

    "node"    one Lava process per NIR node (every hop a Lava hop; many OS processes)
    "block"   one process per name prefix before the first "." ("rb3.conv1", "rb3.lif1" ->
              "rb3"); third-party names without a dot stay one node per process
    "graph"   one process for the whole graph

Whatever the granularity, a cycle (recurrent connection) is kept inside one segment: a back
edge needs its source's value of the previous step, which a Lava hop cannot deliver in time
once the two ends start at different steps. Order, back edges and predecessors come from
``sbn.graph.schedule``, the schedule the reference executor steps by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import networkx as nx
import nir
import numpy as np

from sbn.errors import SimulationError
from sbn.graph.schedule import choose_dt, schedule
from sbn.graph.shapes import infer_shapes
from sbn.targets.lava import ops

FUSE_MODES = ("node", "block", "graph")


@dataclass(frozen=True)
class Hop:
    """A value entering a segment over a Lava port: ``source`` node's output, ``delay`` extra
    steps in the receiving ring buffer."""

    source: str
    source_segment: str
    delay: int


@dataclass
class Segment:
    name: str
    nodes: list[str]  # in execution order
    start: int = 0
    hops: list[Hop] = field(default_factory=list)
    sends: list[str] = field(default_factory=list)  # nodes whose output leaves this segment


@dataclass
class Plan:
    """Everything the network builder needs, as plain data."""

    nodes: dict[str, nir.NIRNode]
    shapes: dict[str, tuple[int, ...]]  # output shape per node (one sample, one step)
    preds: dict[str, list[str]]  # forward predecessors (same step)
    back_preds: dict[str, list[str]]  # back-edge predecessors (previous step)
    segments: list[Segment]  # in topological order of the segment graph
    segment_of: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    dt: float

    @property
    def latency(self) -> int:
        """Lava steps between an input frame entering and the last Output computing it."""
        return max(self.output_latency(o) for o in self.outputs)

    def output_latency(self, output: str) -> int:
        return self.segment(self.segment_of[output]).start

    def segment(self, name: str) -> Segment:
        return next(s for s in self.segments if s.name == name)

    @property
    def aligned_hops(self) -> list[tuple[str, Hop]]:
        """(receiving segment, hop) for every hop delayed to meet a longer branch."""
        return [(s.name, h) for s in self.segments for h in s.hops if h.delay > 0]


def make_plan(graph: nir.NIRGraph, fuse: str = "block", dt: float | None = None) -> Plan:
    if fuse not in FUSE_MODES:
        raise SimulationError(f"unknown fuse mode {fuse!r}; choose one of {', '.join(FUSE_MODES)}")
    sched = schedule(graph)
    flat, edges = sched.nodes, sched.edges
    step = choose_dt(graph, flat, dt)
    for name, node in flat.items():
        _check_reset_mode(name, node)
        ops.build_op(name, node, step)  # refuses what Lava's models cannot run, by name
    shapes = infer_shapes(SimpleNamespace(nodes=flat, edges=edges))  # no NIR type inference
    g = nx.DiGraph()
    g.add_nodes_from(flat)
    g.add_edges_from(edges)
    order = sched.order
    preds, back_preds = sched.preds, sched.back_preds
    inputs, outputs = sched.inputs, sched.outputs

    segment_of = _group(g, fuse)
    segments = _segments(g, order, segment_of)
    return Plan(flat, shapes, preds, back_preds, segments, segment_of, inputs, outputs, step)


def _check_reset_mode(name: str, node) -> None:
    """NIR 1.0 knows only the hard reset to v_reset; a node that says otherwise is refused."""
    meta = getattr(node, "metadata", None) or {}
    for key in ("reset", "reset_mode", "reset_method"):
        mode = meta.get(key)
        if mode is None:
            continue
        mode = mode.decode() if isinstance(mode, bytes) else str(np.asarray(mode).ravel()[0])
        if mode.lower() not in ("zero", "hard", "reset_to_zero", "to_v_reset"):
            raise SimulationError(
                f"node {name}: reset mode {mode!r} cannot be simulated exactly; only the hard "
                "reset to v_reset (NIR's rule) is supported"
            )


def _group(g: nx.DiGraph, fuse: str) -> dict[str, str]:
    """node -> segment name, whole cycles kept together, the segment graph acyclic."""
    if fuse == "graph":
        return {n: "graph" for n in g}
    key = (lambda n: n) if fuse == "node" else (lambda n: n.split(".", 1)[0])
    segment_of = {n: key(n) for n in g}
    while True:
        # merge segments that sit on a common cycle of the segment graph (this also puts
        # every node-level cycle into one segment)
        sg = nx.DiGraph()
        sg.add_nodes_from(set(segment_of.values()))
        sg.add_edges_from(
            (segment_of[a], segment_of[b]) for a, b in g.edges if segment_of[a] != segment_of[b]
        )
        merged = False
        for comp in nx.strongly_connected_components(sg):
            if len(comp) > 1:
                target = min(comp)
                for n, s in segment_of.items():
                    if s in comp:
                        segment_of[n] = target
                merged = True
        if not merged:
            break
    for comp in nx.strongly_connected_components(g):  # a self-loop or cycle inside a segment
        if len({segment_of[n] for n in comp}) > 1:
            raise AssertionError("a cycle spans segments")  # excluded by the merge above
    return segment_of


def _segments(g: nx.DiGraph, order: list[str], segment_of: dict[str, str]) -> list[Segment]:
    by_name: dict[str, Segment] = {}
    for n in order:
        s = segment_of[n]
        by_name.setdefault(s, Segment(s, []))
        by_name[s].nodes.append(n)
    sg = nx.DiGraph()
    sg.add_nodes_from(by_name)
    sg.add_edges_from((segment_of[a], segment_of[b]) for a, b in g.edges if segment_of[a] != segment_of[b])
    seg_order = list(nx.lexicographical_topological_sort(sg))
    for name in seg_order:
        seg = by_name[name]
        incoming = sorted({a for a, b in g.edges if segment_of[b] == name and segment_of[a] != name})
        seg.start = max((by_name[segment_of[a]].start + 1 for a in incoming), default=0)
        seg.hops = [Hop(a, segment_of[a], seg.start - 1 - by_name[segment_of[a]].start) for a in incoming]
        for a in incoming:
            src = by_name[segment_of[a]]
            if a not in src.sends:
                src.sends.append(a)
    return [by_name[s] for s in seg_order]


def total_steps(plan: Plan, time_steps: int) -> int:
    """Lava steps to run so that every Output has computed all ``time_steps`` steps."""
    return time_steps + plan.latency


def describe(plan: Plan) -> str:
    """One line per segment: start step, nodes, incoming hops and their alignment delays."""
    lines = []
    for s in plan.segments:
        hops = ", ".join(f"{h.source}(+{h.delay})" for h in s.hops) or "-"
        lines.append(f"{s.name}: start {s.start}, nodes {len(s.nodes)}, from {hops}")
    return "\n".join(lines)
