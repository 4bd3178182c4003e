"""Cut a NIR graph in two at one node: the device part up to it, the edge part after it.

    partition(graph, cut) -> (device, edge)

``cut`` is a node name or a split name. "RBk" means the last LIF of residual block k
("rbk.lif3"); in a SpikeBottleNet graph the split it was trained for means the encoder's
LIF ("encoder.lif"): the spike tensor that crosses the network.

device = every node the cut depends on, plus an Output "output" fed by the cut;
edge   = every other node, plus an Input "input" of the cut's type feeding what the cut fed.

The cut must separate the graph: the only edges from the device part into the edge part
leave the cut itself. A residual connection that jumps over the cut is an error naming it.
"""

from __future__ import annotations

import re

import networkx as nx
import nir
import numpy as np

from sbn.errors import GraphError
from sbn.models.config import split_label

_SPLIT = re.compile(r"^rb(\d+)$", re.IGNORECASE)


def resolve_cut(graph: nir.NIRGraph, cut: str) -> str:
    """The node name ``cut`` refers to (a node name, or a split name such as "RB7")."""
    if cut in graph.nodes:
        return cut
    splits = split_points(graph)
    key = _label(str(cut).strip())
    if key in splits:
        return splits[key]
    valid = ", ".join(splits) if splits else "none (the graph has no rbK.lif3 nodes)"
    raise GraphError(
        f"unknown cut {cut!r}: not a node of the graph, and not a split point (valid split points: {valid})"
    )


def split_points(graph: nir.NIRGraph) -> dict[str, str]:
    """Split name -> node name, in block order."""
    found = []
    for name in graph.nodes:
        head, _, tail = name.partition(".")
        m = _SPLIT.match(head)
        if m and tail == "lif3":
            found.append((int(m.group(1)), name))
    points = {split_label(k): name for k, name in sorted(found)}
    meta = graph.metadata or {}
    split, cut = meta.get("sbn.split"), meta.get("sbn.cut")
    if split is not None and cut is not None and str(cut) in graph.nodes:
        points[_label(str(split))] = str(cut)
    return points


def _label(text: str) -> str:
    """ "rb07" / "RB7" -> "RB7"; anything else unchanged."""
    m = _SPLIT.match(text)
    return split_label(int(m.group(1))) if m else text


def partition(graph: nir.NIRGraph, cut: str) -> tuple[nir.NIRGraph, nir.NIRGraph]:
    """(device, edge) subgraphs of ``graph`` cut after node ``cut`` (see module doc)."""
    if any(isinstance(n, nir.NIRGraph) for n in graph.nodes.values()):
        raise GraphError("partition needs a flat graph; this one has nested NIRGraph nodes")
    node = resolve_cut(graph, cut)
    g = nx.DiGraph()
    g.add_nodes_from(graph.nodes)
    g.add_edges_from(graph.edges)
    if not nx.is_directed_acyclic_graph(g):
        raise GraphError("cannot partition a graph with cycles (recurrent connections)")
    if isinstance(graph.nodes[node], (nir.Input, nir.Output)):
        kind = type(graph.nodes[node]).__name__
        raise GraphError(f"cannot cut at {node!r}: it is an {kind} node")

    device = nx.ancestors(g, node) | {node}
    crossing = sorted((u, v) for u, v in g.edges if u in device and v not in device and u != node)
    if crossing:
        shown = ", ".join(f"{u} -> {v}" for u, v in crossing[:6])
        more = f" and {len(crossing) - 6} more" if len(crossing) > 6 else ""
        raise GraphError(
            f"cut {node!r} does not separate the graph: {len(crossing)} edge(s) cross it "
            f"besides the cut's own ({shown}{more}); cut at a block boundary instead"
        )
    stray_inputs = sorted(n for n in g if n not in device and isinstance(graph.nodes[n], nir.Input))
    device_outputs = sorted(n for n in device if isinstance(graph.nodes[n], nir.Output))
    if stray_inputs or device_outputs:
        raise GraphError(
            f"cut {node!r} leaves Input nodes {stray_inputs} after the cut or Output nodes "
            f"{device_outputs} before it; every input must feed the device part and every "
            f"output come from the edge part"
        )
    receivers = sorted(g.successors(node))
    if not receivers:
        raise GraphError(f"cut {node!r} feeds nothing: the edge part would be empty")

    shape = _output_shape(graph, node)
    dev_nodes = {n: graph.nodes[n] for n in graph.nodes if n in device}
    out_name = _fresh("output", dev_nodes)
    dev_nodes[out_name] = nir.Output(output_type={"output": shape.copy()})
    dev_edges = [(u, v) for u, v in graph.edges if u in device and v in device]
    dev_edges.append((node, out_name))

    edge_nodes = {n: graph.nodes[n] for n in graph.nodes if n not in device}
    in_name = _fresh("input", edge_nodes)
    edge_nodes = {in_name: nir.Input(input_type={"input": shape.copy()}), **edge_nodes}
    edge_edges = [(in_name, v) for v in receivers]
    edge_edges += [(u, v) for u, v in graph.edges if u not in device and v not in device]

    meta = dict(graph.metadata or {})
    meta["sbn.cut"] = node
    device_graph = nir.NIRGraph(
        nodes=dev_nodes, edges=dev_edges, metadata={**meta, "sbn.part": "device"}, type_check=False
    )
    edge_graph = nir.NIRGraph(
        nodes=edge_nodes, edges=edge_edges, metadata={**meta, "sbn.part": "edge"}, type_check=False
    )
    return device_graph, edge_graph


def _output_shape(graph: nir.NIRGraph, name: str) -> np.ndarray:
    out = (graph.nodes[name].output_type or {}).get("output")
    if out is None:
        raise GraphError(f"cut {name!r} has no known output shape; infer the graph's types first")
    return np.asarray(out).astype(np.int64)


def _fresh(base: str, taken) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name
