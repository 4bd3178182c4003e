"""Synaptic operations and energy per node of any NIR graph (``sbn energy GRAPH.nir``).

The method's energy model (docs/energy.md), applied node by node to a graph that need not be
ours::

    MACs_l   per sample and step: Conv (out elements x in-channels/groups x kernel taps),
             Affine/Linear (in x out), SumPool/AvgPool (out elements x window taps)
    SyOPs_l  = fr_l x T x MACs_l      fr_l: rate of the spike train entering l
    ANN      = MACs_l x T_ann x E_MAC (T_ann = 1: a real-valued net runs once)
    SNN      = SyOPs_l x E_SyOP

The spike train entering a node is its source's: walking back through nodes that only
reshape (Flatten, Delay, nested Input/Output) to the neuron or Input that emitted it. Its rate
comes from a rates file (``sbn.firing-rates/1``: a key naming the neuron, or naming this
synaptic node, see ``sbn.graph.rates``) or from one what-if rate. A node fed by an Input
without a rate (real values, like pixels), or by a non-spiking node, has no SyOPs: it is
listed with its MACs and left out of the spiking totals, never counted as zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import nir
import numpy as np

from sbn import __version__
from sbn.energy.presets import CostPreset
from sbn.errors import ConfigError
from sbn.graph import node_types
from sbn.graph.rates import check_rate
from sbn.graph.schedule import schedule
from sbn.graph.shapes import infer_shapes

SCHEMA = "sbn.energy-graph/1"
PJ_TO_MJ = 1e-9


@dataclass(frozen=True)
class NodeEnergy:
    name: str
    kind: str  # NIR node type
    macs: int  # per sample per time step
    source: str | None  # the spiking node (or Input) whose spikes enter; None if not spikes
    rate: float | None
    syops: float | None  # per inference (T steps)
    ann_mj: float | None
    snn_mj: dict[str, float] | None


def node_macs(node: nir.NIRNode, out_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one node for one sample at one step."""
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        w = np.asarray(node.weight)
        return math.prod(out_shape) * int(np.prod(w.shape[1:]))  # (in/groups) x taps per output
    if isinstance(node, (nir.Affine, nir.Linear)):
        return int(np.asarray(node.weight).size)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        return math.prod(out_shape) * int(np.prod(np.atleast_1d(node.kernel_size)))
    raise ConfigError(f"{type(node).__name__} is not a counted node type")


def graph_energy(
    graph: nir.NIRGraph,
    *,
    snn: Sequence[CostPreset],
    ann: CostPreset,
    rates: Mapping[str, float] | None = None,
    uniform: float | None = None,
    time_steps: int | None = None,
    rates_source: str = "",
) -> dict[str, Any]:
    """The ``sbn.energy-graph/1`` report of ``graph``."""
    if rates is not None and uniform is not None:
        raise ConfigError("give either firing rates or one uniform rate, not both")
    sched = schedule(graph)
    flat = sched.nodes
    shapes = infer_shapes(SimpleNamespace(nodes=flat, edges=sched.edges))
    rates = {k: check_rate(k, v) for k, v in (rates or {}).items()}
    unknown = sorted(set(rates) - set(flat))
    if unknown:
        raise ConfigError(f"firing rate given for {unknown[0]!r}, which is not a node of the graph")
    if uniform is not None:
        check_rate("--firing-rate", uniform)
    steps = 1 if time_steps is None else int(time_steps)
    if steps < 1:
        raise ConfigError(f"T must be >= 1, got {steps}")
    rows = []
    for name in sched.order:
        node = flat[name]
        if not node_types.lookup(name, node).counted:
            continue
        macs = node_macs(node, shapes[name])
        source = _spike_source(name, sched, flat)
        if uniform is not None:
            rate = uniform
        elif name in rates:  # a synaptic key: the rate entering it
            rate = rates[name]
        else:
            rate = rates.get(source) if source is not None else None
        syops = None if rate is None else rate * steps * macs
        rows.append(
            NodeEnergy(
                name=name,
                kind=type(node).__name__,
                macs=macs,
                source=source,
                rate=rate,
                syops=syops,
                ann_mj=None if ann.e_mac_pj is None else macs * ann.e_mac_pj * PJ_TO_MJ,
                snn_mj=None
                if syops is None
                else {p.name: syops * p.e_syop_pj * PJ_TO_MJ for p in snn if p.e_syop_pj is not None},
            )
        )
    counted = [r for r in rows if r.syops is not None]
    return {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "time_steps": time_steps,
        "per": "inference of T steps" if time_steps is not None else "time step (T not stated)",
        "rates": {
            "source": rates_source
            or (f"uniform {uniform:g}" if uniform is not None else ("file" if rates else None))
        },
        "presets": {"snn": {p.name: p.to_dict() for p in snn}, "ann": {ann.name: ann.to_dict()}},
        "nodes": [_row(r) for r in rows],
        "totals": {
            "macs": sum(r.macs for r in rows),
            "ann_mj": None if ann.e_mac_pj is None else sum(r.ann_mj for r in rows),
            "syops": sum(r.syops for r in counted) if counted else None,
            "snn_mj": {p.name: sum(r.snn_mj[p.name] for r in counted) for p in snn if p.e_syop_pj is not None}
            if counted
            else None,
            "nodes_without_spike_rate": [r.name for r in rows if r.syops is None],
        },
    }


def _row(r: NodeEnergy) -> dict[str, Any]:
    return {
        "node": r.name,
        "type": r.kind,
        "macs": r.macs,
        "spikes_from": r.source,
        "firing_rate": r.rate,
        "syops": r.syops,
        "ann_mj": r.ann_mj,
        "snn_mj": r.snn_mj,
    }


def _spike_source(name: str, sched, flat) -> str | None:
    """The neuron or Input whose spikes enter ``name``, through reshaping nodes; None when
    what enters is not one spike train (several sources, or a non-spiking node)."""
    seen = {name}
    current = name
    while True:
        preds = sched.preds[current] + sched.back_preds[current]
        if len(preds) != 1:
            return None
        src = preds[0]
        node = flat[src]
        entry = node_types.lookup(src, node)
        if entry.spiking or (isinstance(node, nir.Input) and not sched.preds[src]):
            return src
        if not entry.passes_spikes or src in seen:
            return None
        seen.add(src)
        current = src
