"""``sbn sim GRAPH.nir --input X.npy|X.npz``: any NIR graph on given input streams.

The Output streams go to ``--out Y.npz`` (keyed by Output node name); the report (table or
``sbn.sim-graph/1`` JSON) to stdout. See ``sbn.graph_run``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from sbn.cli.options import given_options
from sbn.errors import ConfigError

#: `sbn sim` options that belong to the dataset mode; with --input they are refused if given
DATASET_OPTIONS = (
    "edge",
    "samples",
    "dataset",
    "data_dir",
    "checkpoint",
    "time_steps",
    "workers",
    "address",
    "retries",
    "target_spec",
    "chips",
    "quantized",
    "rates_out",
    "codec",
    "channel_spec",
    "seed",
)


def refuse_dataset_options(ctx: click.Context) -> None:
    given = given_options(ctx, DATASET_OPTIONS)
    if given:
        raise ConfigError(
            f"{', '.join(given)}: {'a dataset option' if len(given) == 1 else 'dataset options'}, "
            "not for --input (the samples come from the input file)"
        )


def run_streams(
    source: Path,
    input_path: Path,
    *,
    backend: str,
    dt: float | None,
    fuse: str,
    batch_size: int,
    fmt: str,
    out: Path | None,
) -> None:
    from sbn.cli.outputs import own_outputs
    from sbn.graph.io import load_nir
    from sbn.graph.schedule import schedule
    from sbn.graph_run import graph_report, input_shapes, run_graph
    from sbn.streams import read_streams, refuse_replacing_streams, write_streams

    if source.is_dir() or source.suffix != ".nir":
        raise ConfigError(f"{source}: --input runs one NIR graph; give a .nir file")
    if out is not None and out.suffix != ".npz":
        raise ConfigError(f"--out {out}: the Output streams are written as .npz; name it *.npz")
    own_outputs({"--out": out}, [source, input_path])
    graph = load_nir(source)
    if out is not None:
        refuse_replacing_streams(out, schedule(graph).outputs)
    feeds = read_streams(input_path, input_shapes(graph))
    run = run_graph(graph, feeds, backend=backend, dt=dt, fuse=fuse, batch_size=batch_size)
    if run.dt_source == "default":
        click.echo(
            f"note: {source.name} states no dt; stepped at dt = {run.dt:g} (NIR's default). "
            "Give --dt for the step the graph was made for (norse: 1e-3, snntorch: 1e-4, "
            "sinabs: 1).",
            err=True,
        )
    if out is not None:
        write_streams(out, run.outputs)
    report = graph_report(
        run, source=str(source), inputs=str(input_path), outputs_file=None if out is None else str(out)
    )
    click.echo(json.dumps(report, indent=2) if fmt == "json" else _table(report), nl=fmt == "json")
    if out is not None:
        click.echo(f"wrote {out}", err=True)


def _table(report: dict) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=False)
    console.print(
        f"sbn sim: {report['graph']} on {report['inputs']} ({report['backend']}, "
        f"T = {report['time_steps']}, {report['samples']} sample(s), dt = {report['dt']:g})"
    )
    outputs = Table()
    for col in ("Output", "shape [T, B, ...]", "mean", "nonzero"):
        outputs.add_column(col, justify="left" if col == "Output" else "right")
    for name, o in report["outputs"].items():
        outputs.add_row(name, "x".join(map(str, o["shape"])), f"{o['mean']:.4g}", f"{o['nonzero']:.3f}")
    console.print(outputs)
    if report["firing_rates"]:
        rates = Table()
        rates.add_column("spiking node")
        rates.add_column("firing rate", justify="right")
        for name, rate in sorted(report["firing_rates"].items()):
            rates.add_row(name, f"{rate:.4f}")
        console.print(rates)
    facts = [f"wall {report['wall_s']:.2f} s"]
    if report["backend"] == "lava":
        facts += [
            f"processes {report['processes']}",
            f"latency {report['latency_steps']} steps",
            f"executor outputs identical {report['executor_outputs_identical']}",
        ]
    console.print(" | ".join(facts))
    return buf.getvalue()
