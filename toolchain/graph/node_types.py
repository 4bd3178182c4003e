"""The NIR node types the toolchain knows, as one table: what each means and how each is used.

Every consumer reads this table: the executor (``step``), shape inference (``own_shape``,
``shape``), the mapper (``role``), the energy model (``counted``), firing-rate counting
(``spiking``), the schedule (``stateful``), and the Lava backend, which keeps its own
builders in ``sbn.targets.lava.ops`` (a backend sits above this package) and is tested to
cover every type here. Adding a node type means one entry here, its step in ``nodes`` and,
for Lava, one builder there; an unknown type is refused by name everywhere through
``lookup``.

Roles (how the mapper treats a node):

    io        Input / Output: where values enter and leave
    neuron    holds state, emits what downstream synapses receive (LIF, IF, LI, I, CubaLIF,
              CubaLI, Threshold)
    synapse   weights or windows between neurons (Affine, Linear, Conv1d/2d, SumPool/AvgPool)
    route     changes only the layout, timing or scale of what passes (Flatten, Delay, Scale)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nir

from sbn.errors import GraphError
from sbn.graph import nodes


@dataclass(frozen=True)
class NodeType:
    role: str
    #: builder(node, dt) -> nodes.Op: the reference executor's step
    step: Callable[[Any, float], nodes.Op]
    #: its output is spikes (0/1): counted as firing
    spiking: bool = False
    #: its meaning depends on dt and on earlier steps (a cycle is cut after it)
    stateful: bool = False
    #: its output shape follows from its own parameters (it seeds shape inference)
    own_shape: bool = False
    #: it does multiply-accumulates the energy model counts
    counted: bool = False
    #: what leaves it is what entered, moved or reshaped: a spike train stays one
    passes_spikes: bool = False


TYPES: dict[type, NodeType] = {
    nir.Input: NodeType("io", nodes.passthrough, own_shape=True, passes_spikes=True),
    nir.Output: NodeType("io", nodes.passthrough, passes_spikes=True),
    nir.Affine: NodeType("synapse", nodes.affine, own_shape=True, counted=True),
    nir.Linear: NodeType("synapse", nodes.linear, own_shape=True, counted=True),
    nir.Conv1d: NodeType("synapse", nodes.conv1d, counted=True),
    nir.Conv2d: NodeType("synapse", nodes.conv2d, counted=True),
    nir.SumPool2d: NodeType("synapse", nodes.sum_pool, counted=True),
    nir.AvgPool2d: NodeType("synapse", nodes.avg_pool, counted=True),
    nir.Flatten: NodeType("route", nodes.flatten, passes_spikes=True),
    nir.Scale: NodeType("route", nodes.scale, own_shape=True),
    nir.Delay: NodeType("route", nodes.delay, stateful=True, own_shape=True, passes_spikes=True),
    nir.Threshold: NodeType("neuron", nodes.threshold, spiking=True, own_shape=True),
    nir.LIF: NodeType("neuron", nodes.lif, spiking=True, stateful=True, own_shape=True),
    nir.IF: NodeType("neuron", nodes.if_, spiking=True, stateful=True, own_shape=True),
    nir.LI: NodeType("neuron", nodes.li, stateful=True, own_shape=True),
    nir.I: NodeType("neuron", nodes.integrator, stateful=True, own_shape=True),
    nir.CubaLIF: NodeType("neuron", nodes.cuba_lif, spiking=True, stateful=True, own_shape=True),
    nir.CubaLI: NodeType("neuron", nodes.cuba_li, stateful=True, own_shape=True),
}

SUPPORTED = sorted(t.__name__ for t in TYPES) + ["NIRGraph (nested, flattened)"]


def types_where(**flags: Any) -> tuple[type, ...]:
    """The NIR classes whose entry has every given field value, e.g. ``spiking=True``."""
    return tuple(
        t for t, entry in TYPES.items() if all(getattr(entry, key) == value for key, value in flags.items())
    )


SPIKING = types_where(spiking=True)
STATEFUL = types_where(stateful=True)
NEURONS = types_where(role="neuron")
COUNTED = types_where(counted=True)


def lookup(name: str, node: nir.NIRNode) -> NodeType:
    """The entry of ``node``'s type; a GraphError naming the node and the supported types."""
    entry = TYPES.get(type(node))
    if entry is None:
        raise GraphError(
            f"node {name!r} has NIR type {type(node).__name__}, which sbn does not support "
            f"(supported: {', '.join(SUPPORTED)})"
        )
    return entry


def build(name: str, node: nir.NIRNode, dt: float) -> nodes.Op:
    """The executor's step of ``node`` at ``dt``; errors name the node."""
    entry = lookup(name, node)
    try:
        return entry.step(node, dt)
    except GraphError as exc:
        raise GraphError(f"node {name!r}: {exc}") from None
