"""``sbn map GRAPH.nir --target NAME``: tile a NIR graph onto a target's cores and chips."""

from __future__ import annotations

import io
import json

import click
from rich.console import Console

from sbn.cli.bounds import CHIPS


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Readable table or the sbn.map/1 JSON report.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the output to this file (atomically) instead of stdout.",
)
def map_command(graph, target_spec, chips, firing_rate, rates_file, fmt, out):
    """Split each node of GRAPH into core-sized tiles and place them on cores and chips."""
    from sbn.cli.outputs import own_outputs
    from sbn.fileio import write_text
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
    target = resolve_target(target_spec)
    if chips is not None:
        target = target.with_chips(chips)
    network = read_network(graph)
    placement = place(network, target)
    traffic = rates = None
    if firing_rate is not None or rates_file is not None:
        given = dict(read_rates(rates_file).rates) if rates_file is not None else {}
        rates = resolve_rates(placement, given, firing_rate)
        traffic = estimate_traffic(placement, rates)
    report = report_dict(placement, traffic, rates)
    if fmt == "json":
        text = json.dumps(report, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        Console(file=buffer, width=120, force_terminal=False).print(map_tables(report))
        text = buffer.getvalue()
    if out is None:
        click.echo(text, nl=False)
    else:
        write_text(out, text)
