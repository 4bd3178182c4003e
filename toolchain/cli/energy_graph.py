"""``sbn energy GRAPH.nir``: synaptic ops and energy per node of any NIR graph.

See ``sbn.energy.graph_energy``; schema ``sbn.energy-graph/1``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from sbn.cli.options import given_options
from sbn.cli.report_output import console, emit
from sbn.errors import ConfigError

#: `sbn energy` options of the model mode (RB1..RB16 of our ResNet50): refused with a GRAPH
MODEL_OPTIONS = (
    "arch",
    "checkpoint",
    "width",
    "num_classes",
    "dataset",
    "data_dir",
    "samples",
    "seed",
    "device_spec",
    "save_rates",
    "plot",
    "show_layers",
    "batch_size",
)


def refuse_model_options(ctx: click.Context) -> None:
    given = given_options(ctx, MODEL_OPTIONS)
    if given:
        raise ConfigError(
            f"{', '.join(given)}: for the ResNet50's split points; a GRAPH is counted "
            "node by node (rates: --rates FILE or --firing-rate R)"
        )


def run_graph_energy(
    graph_path: Path,
    *,
    rates_file: Path | None,
    firing_rate: float | None,
    time_steps: int | None,
    snn,
    ann,
    fmt: str,
    out: Path | None,
) -> None:
    from sbn.energy.graph_energy import graph_energy
    from sbn.graph import conventions
    from sbn.graph.io import load_nir
    from sbn.graph.rates import read_rates

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt}: a graph's energy is written as a table or json")
    if rates_file is not None and firing_rate is not None:
        raise ConfigError("give either --firing-rate or --rates, not both")
    graph = load_nir(graph_path)
    rates, source, t = None, "", time_steps
    if rates_file is not None:
        data = read_rates(rates_file)
        rates, source = dict(data.rates), f"{rates_file} ({data.source})"
        if t is None:
            t = data.time_steps
        elif data.time_steps not in (None, t):
            raise ConfigError(f"--T {t} contradicts {rates_file}'s T = {data.time_steps}")
    if t is None and conventions.KEY_TIME_STEPS in (graph.metadata or {}):
        t = int(graph.metadata[conventions.KEY_TIME_STEPS])
    report = graph_energy(
        graph, snn=snn, ann=ann, rates=rates, uniform=firing_rate, time_steps=t, rates_source=source
    )
    report["graph"] = str(graph_path)
    if fmt == "json":
        emit(json.dumps(report, indent=2) + "\n", out)
    else:
        _print_table(report)


def _print_table(report: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    from sbn.energy.tables import fmt_number

    snn = list(report["presets"]["snn"])
    ann = next(iter(report["presets"]["ann"]))
    out = console()
    out.print(
        escape(
            f"Energy per {report['per']} of {report['graph']}"
            + (f", T = {report['time_steps']}" if report["time_steps"] else "")
            + f"; firing rates: {report['rates']['source'] or 'none'}"
        )
    )
    t = Table()
    for col in [
        "node",
        "type",
        "MACs/step",
        "spikes from",
        "rate",
        "SyOPs",
        f"ANN {ann} [mJ]",
        *(f"SNN {n} [mJ]" for n in snn),
    ]:
        t.add_column(escape(col), justify="left" if col in ("node", "type", "spikes from") else "right")
    for r in report["nodes"]:
        t.add_row(
            escape(r["node"]),
            r["type"],
            fmt_number(r["macs"]),
            escape(r["spikes_from"] or "-"),
            "-" if r["firing_rate"] is None else f"{r['firing_rate']:.4f}",
            fmt_number(r["syops"]) or "-",
            fmt_number(r["ann_mj"]) or "-",
            *((fmt_number(r["snn_mj"][n]) if r["snn_mj"] else "-") for n in snn),
        )
    tot = report["totals"]
    t.add_row(
        "total",
        "",
        fmt_number(tot["macs"]),
        "",
        "",
        fmt_number(tot["syops"]) or "-",
        fmt_number(tot["ann_mj"]) or "-",
        *((fmt_number(tot["snn_mj"][n]) if tot["snn_mj"] else "-") for n in snn),
    )
    out.print(t)
    if tot["nodes_without_spike_rate"]:
        out.print(
            escape(
                "not in the spiking totals (no spike rate known for what enters them): "
                + ", ".join(tot["nodes_without_spike_rate"])
            )
        )
