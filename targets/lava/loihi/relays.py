"""The relay neurons of a fixed-point network, as neuron groups that ``sbn map`` places.

A convolution whose source starts earlier than its target needs (a residual shortcut through a
projection) waits in relay neurons (see ``network``): ``DelaySparse`` into a ``LIF`` the size
of the source that re-emits every spike. On a chip those neurons take compartments and their
identity synapses take synaptic memory like any other group, so the placement that names the
core of every process must hold them: ``with_relays`` adds one group per relay to the mapping
problem, between the source and the convolution it feeds.
"""

from __future__ import annotations

from dataclasses import replace

from sbn.targets.groups import Network, NeuronGroup, Projection
from sbn.targets.quantize import Quantized


def relay_name(projection: str) -> str:
    """The relay LIF process (and neuron group) in front of the NIR projection ``projection``;
    its ``DelaySparse`` is ``relay_name(projection) + ".delay"``."""
    return f"relay:{projection}"


def relayed(q: Quantized, delays: dict[str, int]) -> dict[str, str]:
    """Projection -> its source, for every convolution of spikes that is delayed through a relay
    (a graded Input's delayed frames come from a source of their own: no relay)."""
    return {
        p.name: p.source
        for p in q.projections.values()
        if p.kind != "identity" and not p.graded and delays[p.name] > 0
    }


def with_relays(network: Network, q: Quantized, delays: dict[str, int]) -> Network:
    """``network`` with a relay group before each relayed convolution (same shape as the
    source, one identity synapse per neuron), the convolution's projection re-sourced from it."""
    relays = relayed(q, delays)
    if not relays:
        return network
    shapes = {**network.inputs, **{g.name: g.shape for g in network.groups}}
    groups = []
    for group in network.groups:
        projections = []
        for proj in group.projections:
            via = [v for v in proj.via if v in relays]
            if via:
                (conv,) = via
                name = relay_name(conv)
                groups.append(
                    NeuronGroup(
                        name,
                        "LIF",
                        shapes[proj.source],
                        (Projection(proj.source, 1, 1, (name + ".delay",), 1),),
                    )
                )
                proj = replace(proj, source=name)
            projections.append(proj)
        groups.append(replace(group, projections=tuple(projections)))
    return replace(network, groups=tuple(groups))
