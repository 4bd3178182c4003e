"""``sbn map GRAPH.nir --target NAME``: tile a NIR graph onto a target's cores and chips."""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
from rich.console import Console

from sbn.cli.bounds import CHIPS
from sbn.cli.report_format import table_or_json_option


@click.command("map")
@click.argument("graph", type=click.Path(dir_okay=False))
@click.option(
    "--target",
    "target_spec",
    required=True,
    help="Built-in target name (loihi2, rolls) or a .toml/.json target file.",
)
@click.option(
    "--chips", type=CHIPS, default=None, help="Override the target's chip count (a board of N chips)."
)
@click.option(
    "--firing-rate",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Spikes per neuron per step for every neuron and Input node.",
)
@click.option(
    "--rates",
    "rates_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON file of node name -> firing rate (overrides --firing-rate per node).",
)
@table_or_json_option("Readable table or the sbn.map/1 JSON report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON report to this file (atomically) instead of stdout.",
)
def map_command(graph, target_spec, chips, firing_rate, rates_file, fmt, out):
    """Split each node of GRAPH into core-sized tiles and place them on cores and chips."""
    from sbn.cli.outputs import own_outputs
    from sbn.cli.report_format import table_or_json
    from sbn.cli.report_output import emit, refuse_replacing
    from sbn.graph.rates import read_rates
    from sbn.targets import (
        estimate_traffic,
        map_tables,
        place,
        read_network,
        report_dict,
        resolve_rates,
        resolve_target,
    )
    from sbn.targets.registry import target_file

    own_outputs({"--out": out}, [graph, rates_file, target_file(target_spec)])
    fmt = table_or_json(fmt, out)
    refuse_replacing(out, "--out")
    target = resolve_target(target_spec)
    if chips is not None:
        target = target.with_chips(chips)
    network = read_network(graph)
    placement = place(network, target)
    traffic = rates = None
    if firing_rate is not None or rates_file is not None:
        given = dict(read_rates(rates_file).rates) if rates_file is not None else {}
        given = _rates_of_this_graph(given, network, rates_file, graph)
        rates = resolve_rates(placement, given, firing_rate)
        traffic = estimate_traffic(placement, rates)
    report = report_dict(placement, traffic, rates)
    if fmt == "json":
        text = json.dumps(report, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        Console(file=buffer, width=120, force_terminal=False).print(map_tables(report))
        text = buffer.getvalue()
    emit(text, out)


def _rates_of_this_graph(rates: dict[str, float], network, rates_file, graph) -> dict[str, float]:
    """The rates keyed by nodes of ``network``. A file measured on the whole network (``sbn
    energy --save-rates``) also rates the nodes past the cut of a device (or edge) graph:
    those are dropped with a note. A file that rates no node of the graph is left whole, for
    ``resolve_rates`` to refuse: it belongs to another graph."""
    from sbn.graph.rates import translate_module_keys

    rates = translate_module_keys(rates, network.modules)
    kept = {name: rate for name, rate in rates.items() if name in network.modules}
    if kept and len(kept) < len(rates):
        click.echo(
            f"note: {len(rates) - len(kept)} of {len(rates)} firing rates in {rates_file} name nodes "
            f"that are not in {graph} (past its cut): ignored",
            err=True,
        )
        return kept
    return rates
