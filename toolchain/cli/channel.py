"""``sbn channel EXPORT_DIR``: accuracy versus channel error rate, per payload codec, on the
same samples; the device and edge graphs run in the reference executor (no Lava). Table,
JSON ``sbn.channel/1``, a plot, and the measured bytes per codec for ``sbn bits --payloads``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from sbn.cli.bounds import SEED
from sbn.cli.report_format import table_or_json_option
from sbn.cli.report_output import PAYLOAD_BYTES, console, emit, note, refuse_replacing
from sbn.data import DATASETS
from sbn.errors import ConfigError
from sbn.noise_curves import DEFAULT_CHANNELS
from sbn.wire.codecs import CODECS


@click.command("channel")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--edge",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Edge graph, when SOURCE is a device .nir file.",
)
@click.option(
    "--codec",
    "codecs",
    multiple=True,
    type=click.Choice(list(CODECS)),
    help="A codec to compare (repeatable; default: all).",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    help="A channel SPEC (repeatable; default: " + ", ".join(DEFAULT_CHANNELS) + ").",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=None,
    help="Test images (the first N; default: the whole test split).",
)
@click.option("--dataset", type=click.Choice(DATASETS), default="digits", show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the CIFAR files are (digits needs none).",
)
@click.option(
    "--time-steps",
    "--T",
    "time_steps",
    type=click.IntRange(min=1),
    default=None,
    help="T, for graphs whose metadata states none.",
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of the noise (sample i's frame: seed, i; the same for every codec).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@table_or_json_option()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON report here (atomically) instead of stdout.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Accuracy versus error rate figure (.png, .pdf or .svg).",
)
@click.option(
    "--payloads-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the measured bytes per codec at this split (sbn.payload-bytes/1) for `sbn bits --payloads`.",
)
def channel(
    source,
    edge,
    codecs,
    channels,
    samples,
    dataset,
    data_dir,
    time_steps,
    seed,
    batch_size,
    fmt,
    out,
    plot,
    payloads_out,
):
    """Accuracy of SOURCE (an `sbn export` folder) when its payload crosses noisy channels."""
    from sbn.cli.options import run_time_steps
    from sbn.cli.outputs import export_files, own_outputs
    from sbn.cli.report_format import table_or_json
    from sbn.cli.sim_inputs import first_test_images, load_graphs
    from sbn.energy.plots import plot_format
    from sbn.noise_curves import accuracy_under_noise
    from sbn.simulation import SimSource
    from sbn.wire import parse_channel
    from sbn.wire.payload_sizes import row_from_channel_report, write_payload_bytes

    src = SimSource.resolve(source, edge)
    if src.second is None:
        raise ConfigError(
            f"{source}: the channel acts between a device and an edge graph; give an "
            "`sbn export` folder of a split model (or device.nir --edge edge.nir)"
        )
    specs = list(channels) or list(DEFAULT_CHANNELS)
    for spec in specs:
        parse_channel(spec)  # one line before any work
    if plot is not None:
        plot_format(plot)
    own_outputs(
        {"--out": out, "--plot": plot, "--payloads-out": payloads_out},
        [src.first, src.second, *export_files(source)],
    )
    fmt = table_or_json(fmt, out)
    refuse_replacing(out, "--out")
    refuse_replacing(payloads_out, "--payloads-out", PAYLOAD_BYTES)
    device, edge_graph = load_graphs(src)
    t = run_time_steps(device, src.manifest, time_steps, src.label)
    data = first_test_images(device, src, dataset, data_dir, samples)
    with console().status("") as status:
        report = accuracy_under_noise(
            device,
            edge_graph,
            data.images,
            data.labels,
            time_steps=t,
            codecs=list(codecs) or list(CODECS),
            channels=specs,
            seed=seed,
            batch_size=batch_size,
            on_step=lambda what: status.update(what),
        )
    split = (src.manifest or {}).get("split") or "?"
    report = {**report, "source": src.label, "dataset": dataset, "split": split}
    emit(json.dumps(report, indent=2) + "\n" if fmt == "json" else _table(report), out)
    if plot is not None:
        from sbn.noise_plots import plot_noise_curves

        plot_noise_curves(report, plot)
        note(f"wrote {plot}")
    if payloads_out is not None:
        raw = (src.manifest or {}).get("raw_shape")  # [T, C, H, W]; none for two .nir files
        row = row_from_channel_report(split, report, raw_shape=raw[1:] if raw else None)
        write_payload_bytes(payloads_out, [row], source=src.label)
        note(f"wrote {payloads_out}")


def _table(report: dict) -> str:
    import io

    from rich.console import Console
    from rich.table import Table

    specs = [c["spec"] for c in report["channels"]]
    acc = {(r["codec"], r["channel"]): r for r in report["results"]}
    table = Table(
        title=f"sbn channel: {report['source']} ({report['samples']} samples, payload "
        f"{'x'.join(map(str, report['payload_shape']))}, firing "
        f"{report['payload_firing_rate']:.3f}, clean accuracy {report['clean_accuracy']:.3f})"
    )
    table.add_column("codec")
    table.add_column("bytes/sample", justify="right")
    for spec in specs:
        table.add_column(f"{spec}\nacc (lost)", justify="right")
    for codec, c in report["codecs"].items():
        cells = [f"{acc[codec, s]['accuracy']:.3f} ({acc[codec, s]['lost_frames']})" for s in specs]
        table.add_row(codec, f"{c['bytes_per_sample']['mean']:.1f}", *cells)
    buf = io.StringIO()
    Console(file=buf, width=40 + 22 * len(specs), force_terminal=False).print(table)
    return buf.getvalue()
