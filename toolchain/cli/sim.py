"""``sbn sim EXPORT_DIR | GRAPH.nir``: run images through Lava, device and edge as two networks.

Reports per-sample predictions, accuracy, agreement with the reference executor (and with
the PyTorch model given ``--checkpoint``), the measured bytes on the wire per sample (the
bitmap's checked against the manifest; every codec's measured on the same payloads), frames
lost on the channel, and the wall time per sample. JSON schema ``sbn.sim/2``.

``sbn sim GRAPH.nir --input X.npy`` runs any NIR graph on given streams instead of images
(``sim_graph``; schema ``sbn.sim-graph/1``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from sbn.cli.bounds import CHIPS, COUNT, GRAPH_TIME_STEPS, POSITIVE, RETRIES, SEED, WORKERS
from sbn.cli.report_format import table_or_json_option
from sbn.data import DATASETS
from sbn.errors import ConfigError, SimulationError
from sbn.wire.codecs import CODECS, DEFAULT_CODEC


@click.command("sim")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--edge",
    "edge",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Edge graph, when SOURCE is a device .nir file.",
)
@click.option("--samples", type=COUNT, default=8, show_default=True, help="Test images to run (the first N).")
@click.option("--dataset", type=click.Choice(DATASETS), default="digits", show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the CIFAR files are (digits needs none).",
)
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also compare predictions with this PyTorch checkpoint.",
)
@click.option(
    "--time-steps",
    "--T",
    "time_steps",
    type=GRAPH_TIME_STEPS,
    default=None,
    help="T, for graphs whose metadata states none.",
)
@click.option(
    "--fuse",
    type=click.Choice(["block", "node", "graph"]),
    default="block",
    show_default=True,
    help="NIR nodes per Lava process (see docs/lava.md).",
)
@click.option(
    "--batch-size",
    type=COUNT,
    default=16,
    show_default=True,
    help="Samples run side by side per Lava runtime.",
)
@click.option(
    "--workers",
    type=WORKERS,
    default=0,
    show_default=True,
    help="Ray workers, each its own Lava runtime (0: run here, no Ray).",
)
@click.option(
    "--address",
    default=None,
    help="An existing Ray cluster (e.g. auto, ray://head:10001) instead of a local one.",
)
@click.option(
    "--retries",
    type=RETRIES,
    default=1,
    show_default=True,
    help="Times a failed chunk of samples is retried before it is reported.",
)
@click.option(
    "--target",
    "target_spec",
    default=None,
    help="Run the device graph in this chip's fixed point on Lava's own Conv/LIF "
    "processes (loihi2, or a target file with a fixed_point table); the edge stays float.",
)
@click.option(
    "--chips",
    type=CHIPS,
    default=None,
    help="With --target: chips on the board the device graph is placed on.",
)
@click.option(
    "--quantized",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="With --target: an `sbn quantize` file (default: the export's, else quantise now).",
)
@click.option(
    "--rates-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --target: write the firing rates measured in Lava (sbn.firing-rates/1).",
)
@click.option(
    "--codec",
    type=click.Choice(list(CODECS)),
    default=DEFAULT_CODEC,
    show_default=True,
    help="How the payload is coded on the wire (docs/wire.md).",
)
@click.option(
    "--channel",
    "channel_spec",
    default="none",
    show_default=True,
    help="The link between device and edge: none, bsc:P, erasure:P[:PACKET_BYTES], "
    "ge:P_GB:P_BG[:E_GOOD[:E_BAD]], awgn:EBN0_DB.",
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of the channel's noise (sample i's frame: seed, i).",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Run SOURCE (a .nir file) on these input streams instead of images: "
    ".npy [T, *in] or [T, B, *in], or .npz keyed by Input node name.",
)
@click.option(
    "--dt",
    type=POSITIVE,
    default=None,
    help="With --input: the time step (overrides the graph's; graphs without one get 1e-4).",
)
@click.option(
    "--backend",
    type=click.Choice(["lava", "executor"]),
    default="lava",
    show_default=True,
    help="With --input: Lava (cross-checked against the executor) or the reference executor.",
)
@table_or_json_option()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON report here (atomically) instead of stdout; with --input: the "
    "Output streams, as .npz keyed by Output node name.",
)
@click.pass_context
def sim(
    ctx,
    source,
    edge,
    samples,
    dataset,
    data_dir,
    checkpoint,
    time_steps,
    fuse,
    batch_size,
    workers,
    address,
    retries,
    target_spec,
    chips,
    quantized,
    rates_out,
    codec,
    channel_spec,
    seed,
    input_path,
    dt,
    backend,
    fmt,
    out,
):
    """Simulate SOURCE (an `sbn export` folder, or a .nir file) in Lava on test images, or
    a .nir file on given input streams (--input)."""
    from sbn.cli.options import given_options
    from sbn.cli.sim_graph import refuse_dataset_options, run_streams

    if input_path is not None:
        refuse_dataset_options(ctx)
        return run_streams(
            source,
            input_path,
            backend=backend,
            dt=dt,
            fuse=fuse,
            batch_size=batch_size,
            fmt=fmt or "table",
            out=out,
        )
    for flag in given_options(ctx, ("dt", "backend")):
        raise ConfigError(f"{flag} goes with --input (a graph on given streams)")
    from rich.progress import Progress

    from sbn.cli.options import run_time_steps
    from sbn.cli.outputs import export_files, own_outputs
    from sbn.cli.report_format import table_or_json
    from sbn.cli.report_output import RATES, emit, refuse_replacing
    from sbn.cli.sim_inputs import first_test_images, load_graphs
    from sbn.graph.manifest_read import check_checkpoint, read_manifest
    from sbn.simulation import SimSource, outputs_classes, rounding_difference, simulate_dataset
    from sbn.wire import parse_channel

    if source.is_dir():  # the manifest, checked against its graphs, before anything runs
        manifest = read_manifest(source)
        if checkpoint is not None:
            check_checkpoint(manifest, checkpoint, source)
    src = SimSource.resolve(source, edge)
    parse_channel(channel_spec)  # a bad spec: one line before any work
    wired = codec != DEFAULT_CODEC or channel_spec != "none"
    if wired and (target_spec is not None or src.second is None):
        raise ConfigError(
            "--codec and --channel act between a device and an edge graph in float: "
            "give an export folder (or device.nir --edge edge.nir), without --target"
        )
    own_outputs(
        {"--out": out, "--rates-out": rates_out},
        [
            src.first,
            src.second,
            checkpoint,
            quantized,
            *export_files(src.label),
        ],
    )
    fmt = table_or_json(fmt, out)
    refuse_replacing(out, "--out")
    refuse_replacing(rates_out, "--rates-out", RATES)
    if address is not None and workers == 0:
        raise ConfigError("--address needs Ray workers: give --workers 1 or more")
    first_graph, edge_graph = load_graphs(src)
    data = first_test_images(first_graph, src, dataset, data_dir, samples)
    images, labels, n = data.images, data.labels, len(data.labels)
    t = run_time_steps(first_graph, src.manifest, time_steps, src.label)
    if target_spec is None:
        for flag, value in (("--chips", chips), ("--quantized", quantized), ("--rates-out", rates_out)):
            if value is not None:
                raise ConfigError(f"{flag} goes with --target (the fixed-point device path)")
    else:
        if workers or checkpoint is not None:
            raise ConfigError(
                "--target runs in this process and compares with the float graphs; "
                "--workers and --checkpoint are for the float path"
            )
        from sbn.cli.sim_fixed import run_fixed

        return run_fixed(
            src,
            images,
            labels,
            target_spec=target_spec,
            chips=chips,
            quantized=quantized,
            time_steps=t,
            batch_size=batch_size,
            fuse=fuse,
            dataset=dataset,
            rates_out=rates_out,
            fmt=fmt,
            out=out,
        )
    size = outputs_classes(edge_graph or first_graph, data.num_classes)
    class_scores = size is None
    if not class_scores:
        click.echo(
            f"note: {src.second or src.first} outputs {size} values per sample, not "
            f"{data.num_classes} class scores: no accuracy or predictions",
            err=True,
        )
    where = f"{workers} Ray worker(s)" if workers else "this process"
    err = Console(stderr=True)  # no bar (and no blank line it leaves) off a terminal
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"Lava: {n} sample(s), T = {t}, on {where}", total=None)
        report = simulate_dataset(
            src,
            images,
            labels,
            time_steps=t,
            checkpoint=None if checkpoint is None else str(checkpoint),
            fuse=fuse,
            batch_size=batch_size,
            workers=workers,
            address=address,
            retries=retries,
            dataset=dataset,
            on_chunk=lambda done, total: bar.update(task, completed=done, total=total),
            codec=codec,
            channel=channel_spec,
            seed=seed,
            class_scores=class_scores,
        )
    difference = rounding_difference(report)
    if difference is not None:
        click.echo(
            f"note: Lava's outputs differ from the executor's by at most {difference:.2g}: float64 "
            "rounding (Lava's Conv adds the same products in another order, e.g. in the "
            "portable profile's head), not another result",
            err=True,
        )
    emit(json.dumps(report, indent=2) + "\n" if fmt == "json" else _table(report, class_scores), out)
    if report["failed"]:
        lost = sum(f["samples"][1] - f["samples"][0] + 1 for f in report["failed"])
        first = report["failed"][0]
        # errors of the input (SbnError) are not retried: they would fail the same way again
        tries = f" after {first['attempts']} attempts" if first["attempts"] > 1 else ""
        raise SimulationError(f"{lost} of {n} samples failed{tries}: {first['error']}")


def _table(report: dict, class_scores: bool = True) -> str:
    """Only what the run measured: no predictions where the graph outputs no class scores,
    no PyTorch without --checkpoint, no bytes or wire for one network."""
    rows, a = report["results"], report["agreement"]
    split = report["wire"] is not None
    torch = a["pytorch_predictions"] is not None
    columns = {"sample": "index"}
    if class_scores:
        columns |= {"label": "label", "lava": "prediction", "executor": "executor"}
    if torch:
        columns["pytorch"] = "pytorch"
    columns["outputs = executor"] = "outputs_identical"
    if split:
        columns |= {"bytes": "bytes", "lost": "lost"}
    table = Table(
        title=f"sbn sim: {report['source']} ({report['samples']} samples, T = "
        f"{report['time_steps']}, fuse {report['fuse']})"
    )
    for col in columns:
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(*(_f(r[key]) for key in columns.values()))
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=False)
    console.print(table)
    parts = []
    if class_scores:
        agree = f"predictions agree with executor {_f(a['executor_predictions'])}"
        if torch:
            agree += f", with pytorch {_f(a['pytorch_predictions'])}"
        parts += [f"accuracy {_f(report['accuracy'])}", agree]
    identical = f"outputs identical to executor {_f(a['executor_outputs_identical'])}"
    if a["executor_outputs_identical"] is False:
        identical += f" (max difference {a['executor_outputs_max_difference']:.2g})"
    parts.append(identical)
    if split:
        b = report["bytes_per_sample"]
        parts += [
            f"payload firing rate {_f(report['payload_firing_rate'])}",
            f"bytes/sample {_f(b['measured'], '.1f')} (bitmap {_f(b['bitmap'])}, manifest {_f(b['manifest'])})",
        ]
    parts += [
        f"{_f(report['wall_s_per_sample'], '.2f')} s/sample",
        f"Lava processes {_items(report['processes'])}",
        f"latency {_items(report['latency_steps'])} steps",
    ]
    console.print(" | ".join(parts))
    if split:
        w = report["wire"]
        sizes = ", ".join(f"{name} {v['mean']:.1f}" for name, v in w["bytes_per_sample"].items())
        console.print(
            f"wire: codec {w['codec']}, channel {w['channel']} (seed {w['seed']}), "
            f"{w['lost_frames']} lost frame(s) | bytes/sample per codec: {sizes or '-'}"
        )
    return buf.getvalue()


def _items(values: dict) -> str:
    """``{"device": 11, "edge": 13}`` as ``device 11, edge 13`` ('-' when empty: nothing ran)."""
    return ", ".join(f"{name} {value}" for name, value in values.items()) or "-"


def _f(value, spec: str = ".3f") -> str:
    """A figure of the report, '-' where there is none (no sample ran, or not measured)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)
