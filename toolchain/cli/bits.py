"""``sbn bits``: transmitted bits per split point, SpikeBottleNet versus BottleNet++."""

from __future__ import annotations

from pathlib import Path

import click

from sbn.cli.bounds import CHANNELS, STRIDE, TIME_STEPS, WIDTH
from sbn.cli.report_output import FORMATS, choose_format, console, emit, note, refuse_replacing
from sbn.errors import ConfigError


@click.command("bits")
@click.option("--arch", type=click.Choice(["resnet50"]), default="resnet50", show_default=True)
@click.option("--split", help="Split point RBk; leave out for every RB1..RB16.")
@click.option("--channels", type=CHANNELS, help="C', the encoder's output channels.")
@click.option("--stride", type=STRIDE, help="s, the encoder's spatial reduction [1].")
@click.option("--T", "--time-steps", "time_steps", type=TIME_STEPS, help="Time steps T [4].")
@click.option("--width", type=WIDTH, help="Width multiplier of a reduced model [1.0].")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Per-split bottlenecks from a file (TOML/JSON, schema sbn.bits-config/1).",
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), help="Output format [table, or from the --out suffix]."
)
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="Write the table here instead of stdout."
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Bits versus split point figure (.png, .pdf or .svg).",
)
@click.option(
    "--payloads",
    "payloads_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Bytes per sample each codec measured on real payloads (sbn.payload-bytes/1, from "
    "`sbn channel --payloads-out` or examples/benchmarks/bench_wire.py): added per split.",
)
def bits(
    arch, split, channels, stride, time_steps, width, config_file, fmt, out, plot, payloads_file
) -> None:
    """Raw spiking bits, SpikeBottleNet and BottleNet++ (8-bit) transmitted bits, the
    compression ratio and the reduction versus BottleNet++, per sample.

    One row (--split RBk --channels C'), the same C'/stride after every RB (--channels
    without --split), or one row per entry of a --config file.
    """
    from sbn.cli.outputs import own_outputs
    from sbn.energy.bits import arch_config, bits_row, load_bits_config, render, uniform_table

    fmt = choose_format(fmt, out)
    if plot is not None:
        from sbn.energy.plots import plot_format

        plot_format(plot)  # a bad suffix is refused before the table is printed
    own_outputs({"--out": out, "--plot": plot}, [config_file])
    refuse_replacing(out, "--out")  # after own_outputs: an input is named as the input
    if config_file is not None:
        given = [
            n
            for n, v in (
                ("--split", split),
                ("--channels", channels),
                ("--stride", stride),
                ("--T", time_steps),
                ("--width", width),
            )
            if v is not None
        ]
        if given:
            raise ConfigError(f"{given[0]} conflicts with --config (the file says it)")
        config, rows = load_bits_config(config_file)
    else:
        if channels is None:
            raise ConfigError("give --channels C' (and --split RBk for one row), or --config FILE")
        config = arch_config(
            arch, width=1.0 if width is None else width, time_steps=4 if time_steps is None else time_steps
        )
        s = 1 if stride is None else stride
        if split:
            rows = (bits_row(config, split, channels, s),)
        else:
            rows = uniform_table(config, channels, s)
    measured = None
    if payloads_file is not None:
        from sbn.wire.payload_sizes import measured_for

        measured, unchecked = measured_for(rows, payloads_file)
        if unchecked:  # files written before raw_shape was recorded
            shapes = ", ".join(
                f"{p.split} {'x'.join(map(str, p.raw_shape))}" for p in rows if p.split in unchecked
            )
            note(
                f"note: {payloads_file} does not record which model its payloads came from (no "
                f"raw_shape); the table assumes width {config.width} (raw {shapes})"
            )
    model = {"arch": arch, "width": config.width, "time_steps": config.time_steps}
    if fmt == "table":
        _print_table(rows, model, measured)
    else:
        emit(render(rows, fmt, model, measured), out)
    if plot is not None:
        from sbn.energy.plots import plot_bits

        plot_bits(rows, plot, measured)
        note(f"wrote {plot}")


def _print_table(rows, model, measured) -> None:
    from rich.markup import escape
    from rich.table import Table

    from sbn.energy.bits import measured_codecs
    from sbn.energy.tables import fmt_number

    codecs = measured_codecs(measured)

    t = Table(title=escape(f"Transmitted bits per sample [{model['arch']} width {model['width']}]"))
    for col in (
        "split",
        "C x H x W",
        "C' x H' x W'",
        "T",
        "raw bits",
        "SpikeBottleNet bits",
        "BottleNet++ bits",
        "compression",
        "fewer bits than BottleNet++",
    ):
        t.add_column(escape(col), justify="left" if col == "split" else "right")
    for codec in codecs:
        t.add_column(escape(f"{codec} bits (measured)"), justify="right")
    for p in rows:
        sizes = (measured or {}).get(p.split, {})
        t.add_row(
            p.split,
            "x".join(map(str, p.raw_shape)),
            "x".join(map(str, p.payload_shape)),
            str(p.time_steps),
            fmt_number(p.raw_bits),
            fmt_number(p.spiking_bits),
            fmt_number(p.baseline_bits),
            f"{p.compression_ratio:.4g}x",
            f"{p.reduction_vs_baseline:.1f} %",  # as reduction_vs_baseline_pct in json/csv/md
            *("-" if c not in sizes else f"{8 * sizes[c]:,.0f}" for c in codecs),
        )
    t.caption = "raw = C·H·W·T; SpikeBottleNet = C'·H'·W'·T; BottleNet++ = C'·H'·W'·8 (8-bit)"
    if codecs:
        t.caption += "; measured = 8 x mean bytes per sample of each codec on real payloads"
    console().print(t)
