"""Tiling and placement: pure functions from a :class:`Network` and a :class:`Target`.

1. Check every group alone: its fan-in against ``max_fan_in``, one neuron's synaptic memory
   against a core, its average fan-out against ``max_fan_out``.
2. Tile: a group of ``n`` neurons whose core can hold at most ``k`` of them
   (``Target.max_tile_neurons``) is cut into ``t = ceil(n / k)`` tiles of near-equal size
   (``n // t`` or ``n // t + 1`` consecutive neurons, channel-major).
3. Place: groups in topological order of the network (recurrent groups in file order
   within their strongly connected component); tiles go onto cores by *next fit*: into the
   current core while its neurons and synaptic memory allow, else onto a fresh core. Core
   ``c`` sits on chip ``c // cores_per_chip``, so consecutive layers share chips.
4. Overflow: more cores than ``chips * cores_per_chip`` raises MappingError naming the
   first group that does not fit and by how many cores the graph overflows.

Cost is O(groups * log(neurons_per_core) + tiles); no per-neuron loops.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from sbn.errors import MappingError, OutOfCores
from sbn.targets.groups import Network, NeuronGroup
from sbn.targets.spec import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupPlacement:
    """Where one group went. ``tile_sizes[i]`` neurons of tile ``i`` sit on ``tile_cores[i]``."""

    group: NeuronGroup
    tile_capacity: int
    tile_sizes: tuple[int, ...]
    tile_cores: tuple[int, ...]
    tile_synapses: tuple[int, ...]
    fan_out: float

    @property
    def tiles(self) -> int:
        return len(self.tile_sizes)

    @property
    def synaptic_memory(self) -> int:
        return sum(self.tile_synapses)


@dataclass(frozen=True)
class Core:
    index: int
    chip: int
    neurons: int
    synapses: int
    groups: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    """The result: per-group tiles and per-core loads, in placement order."""

    network: Network
    target: Target
    groups: tuple[GroupPlacement, ...]
    cores: tuple[Core, ...]

    @property
    def cores_used(self) -> int:
        return len(self.cores)

    @property
    def chips_used(self) -> int:
        return len({c.chip for c in self.cores})

    def group(self, name: str) -> GroupPlacement:
        for gp in self.groups:
            if gp.group.name == name:
                return gp
        raise KeyError(name)


def placement_order(network: Network) -> list[str]:
    """Group names, sources before consumers; cycles kept together in file order."""
    graph = network.graph()
    graph.remove_nodes_from(list(network.inputs))
    position = {g.name: i for i, g in enumerate(network.groups)}
    cond = nx.condensation(graph)
    order: list[str] = []
    for scc in nx.lexicographical_topological_sort(
        cond, key=lambda c: min(position[m] for m in cond.nodes[c]["members"])
    ):
        order += sorted(cond.nodes[scc]["members"], key=position.__getitem__)
    return order


def fan_outs(network: Network) -> dict[str, float]:
    """Average synapses each source neuron drives, per source (groups and inputs)."""
    out = {name: 0.0 for name in network.inputs}
    out.update({g.name: 0.0 for g in network.groups})
    for g in network.groups:
        for p in g.projections:
            out[p.source] += g.neurons * p.fan_in / network.source_size(p.source)
    return out


def check_group(group: NeuronGroup, target: Target, fan_out: float = 0.0) -> int:
    """The tile capacity of ``group`` on ``target``; MappingError if it cannot fit at all."""
    via = _via(group)
    if target.max_fan_in is not None and group.fan_in > target.max_fan_in:
        raise MappingError(
            f"node {group.name}{via}: fan-in of {group.fan_in} synapses per neuron exceeds the "
            f"{target.max_fan_in} a {target.name} neuron accepts by {group.fan_in - target.max_fan_in}"
        )
    if target.max_fan_out is not None and math.ceil(fan_out) > target.max_fan_out:
        need = math.ceil(fan_out)
        raise MappingError(
            f"node {group.name}: fan-out of {need} synapses per neuron exceeds the "
            f"{target.max_fan_out} a {target.name} neuron drives by {need - target.max_fan_out}"
        )
    capacity = target.max_tile_neurons(group)
    if capacity == 0:
        need = target.tile_synapses(group, 1)
        cap = target.synapses_per_core
        raise MappingError(
            f"node {group.name}{via}: one neuron needs {need} synapses (fan-in {group.fan_in}), "
            f"more than the {cap} a {target.name} core holds, by {need - cap}"
        )
    return capacity


def _via(group: NeuronGroup) -> str:
    names = [p.via[-1] for p in group.projections if p.via]
    return f" (fed by {', '.join(dict.fromkeys(names))})" if names else ""


def tile_sizes(neurons: int, capacity: int) -> np.ndarray:
    """Near-equal tile sizes: ``ceil(neurons / capacity)`` tiles, larger ones first."""
    tiles = -(-neurons // capacity)
    sizes = np.full(tiles, neurons // tiles, dtype=np.int64)
    sizes[: neurons % tiles] += 1
    return sizes


def place(network: Network, target: Target) -> Placement:
    """Tile every group and assign tiles to cores and chips (see the module docstring)."""
    fo = fan_outs(network)
    by_name = {g.name: g for g in network.groups}
    core_neurons: list[int] = []
    core_synapses: list[int] = []
    core_groups: list[list[str]] = []
    placed: list[GroupPlacement] = []
    first_over: tuple[str, int] | None = None
    for name in placement_order(network):
        group = by_name[name]
        capacity = check_group(group, target, fo[name])
        sizes = tile_sizes(group.neurons, capacity)
        mems = _tile_memory(group, target, sizes)
        cores = []
        for size, mem in zip(sizes.tolist(), mems):
            if not core_neurons or (
                core_neurons[-1] + size > target.neurons_per_core
                or core_synapses[-1] + mem > target.synapses_per_core
            ):
                core_neurons.append(0)
                core_synapses.append(0)
                core_groups.append([])
            core_neurons[-1] += size
            core_synapses[-1] += mem
            if not core_groups[-1] or core_groups[-1][-1] != name:
                core_groups[-1].append(name)
            cores.append(len(core_neurons) - 1)
        if first_over is None and len(core_neurons) > target.cores:
            first_over = (name, len(core_neurons))
        placed.append(
            GroupPlacement(group, capacity, tuple(sizes.tolist()), tuple(cores), tuple(mems), fo[name])
        )
        log.debug("placed %s: %d tiles of <= %d neurons", name, len(sizes), capacity)
    if first_over is not None:
        raise _overflow(target, len(core_neurons), *first_over)
    per_chip = target.cores_per_chip
    cores = tuple(
        Core(i, i // per_chip, n, s, tuple(g))
        for i, (n, s, g) in enumerate(zip(core_neurons, core_synapses, core_groups))
    )
    return Placement(network, target, tuple(placed), cores)


def _tile_memory(group: NeuronGroup, target: Target, sizes: np.ndarray) -> list[int]:
    """Synaptic memory of each tile; tiles come in at most two sizes, so two evaluations."""
    memo = {int(k): target.tile_synapses(group, int(k)) for k in np.unique(sizes)}
    return [memo[int(k)] for k in sizes]


def _overflow(target: Target, needed: int, name: str, at: int) -> OutOfCores:
    chips = -(-needed // target.cores_per_chip)
    return OutOfCores(
        f"node {name}: does not fit {target.name} ({target.chips} chip(s) x {target.cores_per_chip} "
        f"cores = {target.cores}); placement runs out of cores at this node (it needs {at} cores "
        f"up to here) and the whole graph needs {needed} cores ({chips} chip(s)), over by "
        f"{needed - target.cores} cores",
        chips,
    )
