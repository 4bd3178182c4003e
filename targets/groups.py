"""From a NIR graph to neuron groups: what each core-resident population needs.

A *neuron group* is one NIR neuron node (LIF, IF, CubaLIF, LI, CubaLI, I, Threshold): its
output elements are the compartments a core holds. Synaptic nodes (Conv, Affine, Linear,
pools, Flatten, Scale, Delay) hold no state; each chain of them between a spiking source (a
neuron group or an Input) and a neuron group is composed into one *projection* whose
synapses live on the cores of the receiving group, as on Loihi, where a core stores the
fan-in of its neurons. A synaptic node that feeds an Output node directly (a non-spiking
readout) becomes a group of its own, since its sums need compartments too.

Fan-in of a composed chain is the number of distinct source elements one output element
reads: for convolution and pooling chains the receptive-field arithmetic
(``r += (k_eff - 1) * j``, ``j *= stride``) times the input channels reached; for chains with
a dense or reshaping step the product of fan-ins, capped by the source size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import networkx as nx
import nir
import numpy as np

from sbn.errors import GraphError
from sbn.graph.node_types import NEURONS
from sbn.graph.shapes import Shape, check_supported, infer_shapes


@dataclass(frozen=True)
class Projection:
    """Synapses from one spiking source into a group, through the synaptic nodes ``via``.

    ``fan_in``: synapses per receiving neuron. ``shared_weights``: distinct weights per
    output channel when the chain is translation-invariant (convolutions, pools, identity),
    else None (every synapse has its own weight). ``out_channels``: channels of the group
    one source element reaches (1 for identity, pooling and depthwise chains, ``C_out`` for
    a full convolution); None when it reaches every channel (dense or reshaping chains).
    """

    source: str
    fan_in: int
    shared_weights: int | None
    via: tuple[str, ...] = ()
    out_channels: int | None = None


@dataclass(frozen=True)
class NeuronGroup:
    """The neurons of one NIR node, in NIR's channel-major element order."""

    name: str
    kind: str
    shape: Shape
    projections: tuple[Projection, ...] = ()
    external_output: bool = False

    @property
    def neurons(self) -> int:
        return math.prod(self.shape)

    @property
    def channels(self) -> int:
        return self.shape[0] if len(self.shape) >= 2 else self.neurons

    @property
    def per_channel(self) -> int:
        return math.prod(self.shape[1:]) if len(self.shape) >= 2 else 1

    @property
    def fan_in(self) -> int:
        return sum(p.fan_in for p in self.projections)

    @property
    def synapses(self) -> int:
        """Connections (synaptic operations per all-sources spike), not stored weights."""
        return self.neurons * self.fan_in


@dataclass(frozen=True)
class Network:
    """The mapping problem: external inputs (name -> shape) and neuron groups."""

    inputs: dict[str, Shape]
    groups: tuple[NeuronGroup, ...]
    name: str = ""
    #: node name -> the PyTorch module it came from (``sbn.module`` metadata), every node
    #: of the graph; used to read rate files keyed by module path
    modules: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    def source_size(self, name: str) -> int:
        if name in self.inputs:
            return math.prod(self.inputs[name])
        return self.group(name).neurons

    def group(self, name: str) -> NeuronGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def graph(self) -> nx.DiGraph:
        """Sources and groups as a networkx graph; edge attribute ``projection``."""
        g = nx.DiGraph()
        for name, shape in self.inputs.items():
            g.add_node(name, kind="Input", neurons=math.prod(shape))
        for grp in self.groups:
            g.add_node(grp.name, kind=grp.kind, neurons=grp.neurons)
        for grp in self.groups:
            for proj in grp.projections:
                if g.has_edge(proj.source, grp.name):
                    prev = g.edges[proj.source, grp.name]["projections"]
                    g.edges[proj.source, grp.name]["projections"] = prev + (proj,)
                else:
                    g.add_edge(proj.source, grp.name, projections=(proj,))
        return g


@dataclass(frozen=True)
class _Chain:
    """A partly composed chain from ``source`` through synaptic nodes."""

    source: str
    source_shape: Shape
    via: tuple[str, ...] = ()
    fan: int = 1
    spatial: bool = True
    channels: int = 1
    field: tuple[int, ...] = ()
    jump: tuple[int, ...] = ()
    out_channels: int | None = 1

    @classmethod
    def start(cls, source: str, shape: Shape) -> _Chain:
        nd = len(shape) - 1
        return cls(source, shape, spatial=nd >= 1, field=(1,) * nd, jump=(1,) * nd)

    def projection(self) -> Projection:
        return Projection(
            self.source, self.fan, self.fan if self.spatial else None, self.via, self.out_channels
        )


def _extend(chain: _Chain, name: str, node) -> _Chain:
    src_size = math.prod(chain.source_shape)
    via = chain.via + (name,)
    if isinstance(node, (nir.Conv1d, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d)):
        if isinstance(node, (nir.Conv1d, nir.Conv2d)):
            kernel = tuple(int(k) for k in node.weight.shape[2:])
            ch_mult = int(node.weight.shape[1])
            dil = np.broadcast_to(np.asarray(node.dilation).reshape(-1), (len(kernel),))
            c_out = int(node.weight.shape[0])
            per_group = c_out // max(1, int(np.asarray(node.groups).reshape(-1)[0]))
            if chain.out_channels is not None:
                chain = replace(chain, out_channels=min(c_out, chain.out_channels * per_group))
        else:
            kernel = tuple(int(k) for k in np.broadcast_to(np.asarray(node.kernel_size).reshape(-1), (2,)))
            ch_mult = 1
            dil = np.ones(len(kernel), dtype=int)
        stride = np.broadcast_to(np.asarray(node.stride).reshape(-1), (len(kernel),))
        if chain.spatial and len(kernel) == len(chain.field):
            eff = [int(d) * (k - 1) + 1 for d, k in zip(dil, kernel)]
            fld = tuple(f + (e - 1) * j for f, e, j in zip(chain.field, eff, chain.jump))
            jump = tuple(j * int(s) for j, s in zip(chain.jump, stride))
            channels = min(chain.source_shape[0], chain.channels * ch_mult)
            reach = math.prod(min(f, n) for f, n in zip(fld, chain.source_shape[1:]))
            return replace(chain, via=via, fan=channels * reach, channels=channels, field=fld, jump=jump)
        return replace(
            chain, via=via, spatial=False, fan=min(src_size, chain.fan * ch_mult * math.prod(kernel))
        )
    if isinstance(node, (nir.Affine, nir.Linear)):
        fan = min(src_size, chain.fan * int(node.weight.shape[-1]))
        return replace(chain, via=via, spatial=False, fan=fan, out_channels=None)
    if isinstance(node, (nir.Scale, nir.Delay)):
        return replace(chain, via=via, spatial=False)
    return replace(chain, via=via, spatial=False, out_channels=None)  # Flatten: layout lost


def network_from_nir(graph: nir.NIRGraph, name: str = "") -> Network:
    """Compose ``graph`` into neuron groups; GraphError for what cannot be placed."""
    check_supported(graph)
    shapes = infer_shapes(graph)
    nodes = graph.nodes
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst in graph.edges:
        succ[src].append(dst)
        pred[dst].append(src)

    def is_source(n: str) -> bool:
        return isinstance(nodes[n], (*NEURONS, nir.Input))

    synaptic = [n for n in nodes if not is_source(n) and not isinstance(nodes[n], nir.Output)]
    sub = nx.DiGraph()
    sub.add_nodes_from(synaptic)
    sub.add_edges_from((s, d) for s, d in graph.edges if s in sub and d in sub)
    try:
        order = list(nx.topological_sort(sub))
    except nx.NetworkXUnfeasible:
        cycle = [e[0] for e in nx.find_cycle(sub)]
        raise GraphError(
            f"node {cycle[0]}: cycle {' -> '.join(cycle)} passes through no neuron node "
            "(an algebraic loop cannot be placed)"
        ) from None

    chains: dict[str, list[_Chain]] = {}
    for n in order:
        incoming: list[_Chain] = []
        for p in pred[n]:
            if isinstance(nodes[p], nir.Output):
                raise GraphError(f"node {p}: an Output node has an outgoing edge to {n}")
            incoming += [_Chain.start(p, shapes[p])] if is_source(p) else chains[p]
        chains[n] = [_extend(c, n, nodes[n]) for c in incoming]

    def projections(n: str) -> tuple[Projection, ...]:
        out: list[Projection] = []
        for p in pred[n]:
            if is_source(p):
                out.append(_Chain.start(p, shapes[p]).projection())
            elif not isinstance(nodes[p], nir.Output):
                out += [c.projection() for c in chains[p]]
        return tuple(out)

    groups = []
    for n, node in nodes.items():
        feeds_output = any(isinstance(nodes[s], nir.Output) for s in succ[n])
        if isinstance(node, NEURONS):
            groups.append(NeuronGroup(n, type(node).__name__, shapes[n], projections(n), feeds_output))
        elif n in chains and feeds_output:  # a synaptic readout into an Output: its own group
            projs = tuple(c.projection() for c in chains[n])
            groups.append(NeuronGroup(n, type(node).__name__, shapes[n], projs, True))
    inputs = {n: shapes[n] for n, node in nodes.items() if isinstance(node, nir.Input)}
    if not groups:
        raise GraphError("the graph has no neuron nodes and no synaptic readout: nothing to place")
    from sbn.graph.rates import node_modules

    return Network(inputs=inputs, groups=tuple(groups), name=name, modules=node_modules(graph))


def read_network(path) -> Network:
    """Read a NIR file into a :class:`Network` through the toolchain's one checked reader
    (``sbn.graph.io.load_nir``: version, node types, parameters); GraphError naming the file
    for anything it or the placement cannot take."""
    from sbn.graph.io import load_nir

    graph = load_nir(path)
    try:
        return network_from_nir(graph, name=str(path))
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}") from None
    except (TypeError, ValueError, IndexError, ArithmeticError) as exc:
        # parameters of a kind the checks above let through (found by the property tests
        # in tests/cli/test_reader_properties.py): still the file's fault, still one line
        raise GraphError(f"{path}: malformed NIR graph ({type(exc).__name__}: {exc})") from None
