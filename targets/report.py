"""The ``sbn map`` report: JSON document ``sbn.map/1`` and a readable rich rendering."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from sbn import __version__
from sbn.fileio import read_document, write_json
from sbn.targets.placement import Placement
from sbn.targets.traffic import Traffic

MAP_SCHEMA = "sbn.map/1"
#: above this many cores the table shows per-chip rows instead of per-core rows
CORE_ROWS = 32


def report_dict(
    placement: Placement, traffic: Traffic | None = None, rates: dict[str, float] | None = None
) -> dict[str, Any]:
    """Plain data of a placement (and traffic, when rates were given)."""
    t = placement.target
    cores = placement.cores
    neurons = sum(c.neurons for c in cores)
    memory = sum(c.synapses for c in cores)
    return {
        "schema": MAP_SCHEMA,
        "producer": f"sbn {__version__}",
        "graph": placement.network.name,
        "target": t.to_dict(),
        "summary": {
            "cores_used": placement.cores_used,
            "chips_used": placement.chips_used,
            "cores_available": t.cores,
            "neurons": neurons,
            "synapses": sum(gp.group.synapses for gp in placement.groups),
            "synaptic_memory": memory,
            "mean_neuron_utilisation": neurons / (len(cores) * t.neurons_per_core),
            "mean_synapse_utilisation": memory / (len(cores) * t.synapses_per_core),
        },
        "inputs": {name: list(shape) for name, shape in placement.network.inputs.items()},
        "nodes": [
            {
                "name": gp.group.name,
                "kind": gp.group.kind,
                "shape": list(gp.group.shape),
                "neurons": gp.group.neurons,
                "fan_in": gp.group.fan_in,
                "fan_out": gp.fan_out,
                "synapses": gp.group.synapses,
                "synaptic_memory": gp.synaptic_memory,
                "tile_capacity": gp.tile_capacity,
                "tiles": gp.tiles,
                "cores": sorted(set(gp.tile_cores)),
                "chips": sorted({c // t.cores_per_chip for c in gp.tile_cores}),
                "external_output": gp.group.external_output,
                "projections": [
                    {
                        "source": p.source,
                        "via": list(p.via),
                        "fan_in": p.fan_in,
                        "shared_weights": p.shared_weights,
                        "out_channels": p.out_channels,
                    }
                    for p in gp.group.projections
                ],
            }
            for gp in placement.groups
        ],
        "cores": [
            {
                "core": c.index,
                "chip": c.chip,
                "neurons": c.neurons,
                "synaptic_memory": c.synapses,
                "neuron_utilisation": c.neurons / t.neurons_per_core,
                "synapse_utilisation": c.synapses / t.synapses_per_core,
                "nodes": list(c.groups),
            }
            for c in cores
        ],
        "rates": rates,
        "traffic": None if traffic is None else traffic.to_dict(),
    }


def write_report(path: str | os.PathLike, report: dict[str, Any]) -> None:
    write_json(path, report)


def read_report(path: str | os.PathLike) -> dict[str, Any]:
    """Read a report back; ConfigError for another version or a corrupt file."""
    return read_document(path, MAP_SCHEMA, "a map report")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def map_tables(report: dict[str, Any]) -> Group:
    """A rich renderable: summary, per-node table, per-core (or per-chip) table, traffic."""
    s, t = report["summary"], report["target"]
    head = Text(
        f"{report['graph'] or 'graph'} on {t['name']}: {s['cores_used']} of {s['cores_available']} cores, "
        f"{s['chips_used']} of {t['chips']} chip(s); {s['neurons']:,} neurons, {s['synapses']:,} synapses, "
        f"{s['synaptic_memory']:,} stored weights; mean core use {_pct(s['mean_neuron_utilisation'])} neurons, "
        f"{_pct(s['mean_synapse_utilisation'])} synaptic memory"
    )
    nodes = Table(title="nodes", title_justify="left")
    for col in (
        "node",
        "kind",
        "shape",
        "neurons",
        "fan-in",
        "fan-out",
        "tiles",
        "per tile",
        "cores",
        "chips",
    ):
        nodes.add_column(col, justify="left" if col in ("node", "kind", "shape") else "right")
    for n in report["nodes"]:
        cores = n["cores"]
        span = f"{cores[0]}" if len(cores) == 1 else f"{cores[0]}-{cores[-1]}"
        chips = n["chips"]
        nodes.add_row(
            n["name"],
            n["kind"],
            "x".join(map(str, n["shape"])),
            f"{n['neurons']:,}",
            f"{n['fan_in']:,}",
            f"{n['fan_out']:,.1f}",
            str(n["tiles"]),
            f"{n['tile_capacity']:,}",
            span,
            str(chips[0]) if len(chips) == 1 else f"{chips[0]}-{chips[-1]}",
        )
    parts = [head, nodes, _core_table(report)]
    if report.get("traffic"):
        parts.append(_traffic_table(report["traffic"]))
    return Group(*parts)


def _core_table(report: dict[str, Any]) -> Table:
    cores = report["cores"]
    if len(cores) <= CORE_ROWS:
        table = Table(title="cores", title_justify="left")
        for col in ("core", "chip", "neurons", "neuron use", "weights", "memory use", "nodes"):
            table.add_column(col, justify="left" if col == "nodes" else "right")
        for c in cores:
            table.add_row(
                str(c["core"]),
                str(c["chip"]),
                f"{c['neurons']:,}",
                _pct(c["neuron_utilisation"]),
                f"{c['synaptic_memory']:,}",
                _pct(c["synapse_utilisation"]),
                ", ".join(c["nodes"]),
            )
        return table
    table = Table(title=f"chips ({len(cores)} cores; per-core rows in --format json)", title_justify="left")
    for col in ("chip", "cores", "neuron use min/mean/max", "memory use min/mean/max"):
        table.add_column(col, justify="right")
    by_chip: dict[int, list[dict]] = {}
    for c in cores:
        by_chip.setdefault(c["chip"], []).append(c)
    for chip, cs in by_chip.items():
        nu = [c["neuron_utilisation"] for c in cs]
        su = [c["synapse_utilisation"] for c in cs]
        table.add_row(
            str(chip),
            str(len(cs)),
            f"{_pct(min(nu))} / {_pct(sum(nu) / len(nu))} / {_pct(max(nu))}",
            f"{_pct(min(su))} / {_pct(sum(su) / len(su))} / {_pct(max(su))}",
        )
    return table


def _traffic_table(traffic: dict[str, Any]) -> Table:
    table = Table(title="traffic per time step (expected)", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("spikes emitted by neurons", traffic["spikes"]),
        ("input spikes (off chip)", traffic["input_spikes"]),
        ("spike messages within a core", traffic["messages_within_core"]),
        ("spike messages across cores", traffic["messages_across_cores"]),
        ("  of which across chips", traffic["messages_across_chips"]),
        ("messages from inputs", traffic["messages_from_inputs"]),
        ("output spikes (off chip)", traffic["output_spikes"]),
        ("synaptic operations", traffic["synaptic_ops"]),
        ("neuron updates", traffic["neuron_updates"]),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:,.1f}")
    table.add_row("synaptic energy", f"{traffic['synaptic_energy_j'] * 1e9:,.3f} nJ")
    e = traffic["neuron_energy_j"]
    table.add_row("neuron update energy", "unknown for this target" if e is None else f"{e * 1e9:,.3f} nJ")
    return table
