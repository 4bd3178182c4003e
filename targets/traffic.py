"""Spike traffic of a placement, given firing rates (spikes per neuron per time step).

A spike is delivered once to every destination core that holds synapses of the spiking
neuron (Loihi's core-to-core spike messages). For a projection from source ``s`` into a group
``g`` of ``T`` tiles of about ``k`` neurons, one source neuron drives ``fo = n_g * fan_in / n_s``
synapses over ``co`` channels of ``g`` (``tiles_reached``): they fall on
``d = ceil(co * HW / k)`` tiles when tiles hold whole channels of ``HW`` neurons, else on
``co * ceil((fo / co) / k)`` (all tiles for a dense layer or a full convolution over
channel-split tiles, one for an identity edge); a core holding ``m`` of the ``T`` tiles then
receives each source spike with probability ``min(1, d * m / T)``. Messages whose source
tile sits on another core (another chip) count as crossing cores (chips). Input nodes are off
chip: their messages are reported apart. Everything is an expectation, in numpy, per
(source tile, destination core) pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sbn.errors import ConfigError
from sbn.graph.rates import translate_module_keys
from sbn.targets.placement import Placement


@dataclass(frozen=True)
class Traffic:
    """Expected events per time step."""

    spikes: float
    input_spikes: float
    messages_within_core: float
    messages_across_cores: float
    messages_across_chips: float
    messages_from_inputs: float
    output_spikes: float
    synaptic_ops: float
    neuron_updates: int
    synaptic_energy_j: float
    neuron_energy_j: float | None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def resolve_rates(
    placement: Placement, rates: dict[str, float] | None, default: float | None
) -> dict[str, float]:
    """A rate for every group and input; errors name the node.

    A rate keyed by a neuron or Input node is that node's rate. A rate keyed by a synaptic
    node is, as in the energy model, the rate of the spike train entering it, so it gives the
    rate of the source feeding it (the mean where several such nodes give one source a rate).
    Sources with no rate take ``default``. Keys that are no node name but the PyTorch module
    path of exactly one node (``sbn.module`` metadata: files of older ``sbn energy``) are
    translated to that node.
    """
    rates = translate_module_keys(dict(rates or {}), placement.network.modules)
    names = list(placement.network.inputs) + [gp.group.name for gp in placement.groups]
    entering: dict[str, str] = {}  # synaptic node -> the spiking source entering it
    for gp in placement.groups:
        for p in gp.group.projections:
            for node in p.via:
                entering.setdefault(node, p.source)
    unknown = sorted(set(rates) - set(names) - set(entering))
    if unknown:
        valid = names + sorted(set(entering) - set(names))
        shown = ", ".join(valid[:12]) + (f", ... ({len(valid)} in all)" if len(valid) > 12 else "")
        raise ConfigError(
            f"firing rate given for {unknown[0]!r}, which is not a node of the graph that carries "
            f"spikes; rates apply to: {shown}"
        )
    for key, rate in rates.items():
        _check_rate(key, rate)
    via_rates: dict[str, list[float]] = {}
    for key, rate in rates.items():
        if key not in names:
            via_rates.setdefault(entering[key], []).append(float(rate))
    out = {}
    for name in names:
        if name in rates:
            out[name] = float(rates[name])
        elif name in via_rates:
            out[name] = sum(via_rates[name]) / len(via_rates[name])
        elif default is not None:
            out[name] = float(_check_rate("--firing-rate", default))
        else:
            raise ConfigError(
                f"no firing rate for node {name!r}; add it to the rates file or pass --firing-rate"
            )
    return out


def _check_rate(name: str, rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ConfigError(f"firing rate of node {name!r} must be in [0, 1] spikes per step, got {rate!r}")
    return rate


def tiles_reached(
    n: int, per_channel: int, channels: int, tiles: int, fo: float, out_channels: int | None
) -> int:
    """Tiles of a group one source neuron's ``fo`` synapses fall on (tiles hold ``n / tiles``
    consecutive channel-major neurons). The synapses span ``co`` channels (``out_channels``,
    all when None) at ``fo / co`` positions each: a tile of whole channels takes
    ``k / per_channel`` of them; a tile inside a channel takes ``k`` positions of one."""
    k = n / tiles
    co = min(channels, out_channels or channels)
    if k >= per_channel:
        d = math.ceil(co * per_channel / k)
    else:
        d = co * math.ceil(max(1.0, fo / co) / k)
    return int(min(tiles, max(1, d)))


def estimate_traffic(placement: Placement, rates: dict[str, float]) -> Traffic:
    """Expected spikes and core/chip-crossing messages per step; ``rates`` from resolve_rates."""
    target, net = placement.target, placement.network
    per_chip = target.cores_per_chip
    tiles = {gp.group.name: gp for gp in placement.groups}
    within = across = chips = from_inputs = synops = 0.0
    for gp in placement.groups:
        g = gp.group
        dest_cores, counts = np.unique(np.asarray(gp.tile_cores), return_counts=True)
        for p in g.projections:
            n_s = net.source_size(p.source)
            fo = g.neurons * p.fan_in / n_s
            d = tiles_reached(g.neurons, g.per_channel, g.channels, gp.tiles, fo, p.out_channels)
            reach = np.minimum(1.0, d * counts / gp.tiles)  # P(a source spike reaches core K)
            rate = rates[p.source]
            synops += n_s * rate * fo
            if p.source in net.inputs:
                from_inputs += n_s * rate * reach.sum()
                continue
            src = tiles[p.source]
            spikes = np.asarray(src.tile_sizes, dtype=float) * rate  # per source tile
            src_cores = np.asarray(src.tile_cores)
            msgs = spikes[:, None] * reach[None, :]
            same_core = src_cores[:, None] == dest_cores[None, :]
            same_chip = (src_cores // per_chip)[:, None] == (dest_cores // per_chip)[None, :]
            within += msgs[same_core].sum()
            across += msgs[~same_core].sum()
            chips += msgs[~same_chip].sum()
    spikes_total = sum(gp.group.neurons * rates[gp.group.name] for gp in placement.groups)
    input_spikes = sum(math.prod(s) * rates[n] for n, s in net.inputs.items())
    out_spikes = sum(
        gp.group.neurons * rates[gp.group.name] for gp in placement.groups if gp.group.external_output
    )
    updates = sum(gp.group.neurons for gp in placement.groups)
    e_neuron = target.energy_per_neuron_update_j
    return Traffic(
        spikes=float(spikes_total),
        input_spikes=float(input_spikes),
        messages_within_core=float(within),
        messages_across_cores=float(across),
        messages_across_chips=float(chips),
        messages_from_inputs=float(from_inputs),
        output_spikes=float(out_spikes),
        synaptic_ops=float(synops),
        neuron_updates=int(updates),
        synaptic_energy_j=float(synops * target.energy_per_synaptic_op_j),
        neuron_energy_j=None if e_neuron is None else float(updates * e_neuron),
    )
