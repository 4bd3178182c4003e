"""``sbn energy``: device energy per split point, spiking model versus BottleNet++."""

from __future__ import annotations

from pathlib import Path

import click

from sbn.cli.bounds import COUNT, SEED, TIME_STEPS, WIDTH
from sbn.cli.report_output import FORMATS, RATES, choose_format, console, emit, note, refuse_replacing
from sbn.data import DATASETS
from sbn.errors import ConfigError
from sbn.models.config import LIMITS


@click.command("energy")
@click.argument("graph", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--arch",
    type=click.Choice(["resnet50"]),
    default="resnet50",
    show_default=True,
    help="Backbone whose shapes are counted (the CIFAR ResNet50).",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Model to measure: its shapes, T and (unless told otherwise) firing rates.",
)
@click.option("--width", type=WIDTH, help="Width multiplier without a checkpoint [1.0].")
@click.option(
    "--num-classes", type=click.IntRange(2, LIMITS["num_classes"]), help="Classes without a checkpoint [100]."
)
@click.option(
    "--T",
    "--time-steps",
    "time_steps",
    type=TIME_STEPS,
    help="Time steps T without a checkpoint [4].",
)
@click.option("--dataset", type=click.Choice(DATASETS), help="Dataset for measuring firing rates [digits].")
@click.option(
    "--data-dir", type=click.Path(path_type=Path, file_okay=False), help="Folder holding the dataset (CIFAR)."
)
@click.option("--samples", type=COUNT, help="Samples for measuring firing rates [32].")
@click.option("--batch-size", type=COUNT, default=16, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Which samples are drawn.")
@click.option(
    "--device",
    "device_spec",
    default="auto",
    show_default=True,
    help="Where the firing rates are measured: auto (a GPU where there is one), cpu, cuda or cuda:N.",
)
@click.option(
    "--firing-rate", type=float, help="What if every counted layer received spikes at this rate (0..1)."
)
@click.option(
    "--rates",
    "rates_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Measured firing rates from a file instead of measuring (sbn.firing-rates/1, "
    "keyed by NIR node name: --save-rates output or a Lava run).",
)
@click.option(
    "--save-rates",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the rates used to this file (sbn.firing-rates/1, keyed by NIR "
    "node name; `sbn map --rates` reads it).",
)
@click.option(
    "--preset",
    "presets",
    multiple=True,
    help="Extra SNN preset besides 45nm and rolls (e.g. loihi); repeatable.",
)
@click.option("--ann-preset", default="45nm", show_default=True, help="Preset pricing the baseline's MACs.")
@click.option(
    "--presets-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="User presets (TOML or JSON, schema sbn.energy-presets/1).",
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), help="Output format [table, or from the --out suffix]."
)
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here instead of stdout."
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Energy versus split point figure (.png, .pdf or .svg).",
)
@click.option("--layers", "show_layers", is_flag=True, help="Table format: also list every counted layer.")
@click.pass_context
def energy(
    ctx,
    graph,
    arch,
    checkpoint,
    width,
    num_classes,
    time_steps,
    dataset,
    data_dir,
    samples,
    batch_size,
    seed,
    device_spec,
    firing_rate,
    rates_file,
    save_rates,
    presets,
    ann_preset,
    presets_file,
    fmt,
    out,
    plot,
    show_layers,
) -> None:
    """Cumulative device energy for every split point RB1..RB16; or, given GRAPH (any .nir
    file), synaptic ops and energy per node.

    The baseline (BottleNet++, MACs on 45 nm) needs only shapes; the spiking model needs
    firing rates: measured on --samples images of --dataset with --checkpoint, read with
    --rates, or assumed with --firing-rate.
    """
    from sbn.cli.outputs import own_outputs
    from sbn.device import resolve_device
    from sbn.energy import (
        DEFAULT_SNN_PRESETS,
        estimate_energy,
        load_preset_file,
        resolve_preset,
    )
    from sbn.energy import (
        save_rates as save,
    )
    from sbn.energy.report import render

    fmt = choose_format(fmt, out)
    if plot is not None:
        from sbn.energy.plots import plot_format

        plot_format(plot)  # a bad suffix is refused before the work, not after the table
    # NaN compares false: `not 0 <= x <= 1` refuses it too
    if firing_rate is not None and not 0 <= firing_rate <= 1:
        raise ConfigError(f"--firing-rate {firing_rate} must lie in [0, 1] (spikes per neuron per time step)")
    own_outputs(
        {"--out": out, "--plot": plot, "--save-rates": save_rates},
        [graph, checkpoint, rates_file, presets_file],
    )
    refuse_replacing(out, "--out")  # after own_outputs: an input is named as the input
    refuse_replacing(save_rates, "--save-rates", RATES)
    extra = load_preset_file(presets_file) if presets_file else {}
    names = list(dict.fromkeys([*DEFAULT_SNN_PRESETS, *presets]))
    snn = [resolve_preset(n, extra) for n in names]
    ann = resolve_preset(ann_preset, extra)
    if graph is not None:
        from sbn.cli.energy_graph import refuse_model_options, run_graph_energy

        refuse_model_options(ctx)
        return run_graph_energy(
            graph,
            rates_file=rates_file,
            firing_rate=firing_rate,
            time_steps=time_steps,
            snn=snn,
            ann=ann,
            fmt=fmt,
            out=out,
        )
    device = resolve_device(device_spec)  # refused before anything is measured or written

    measuring = dataset is not None or samples is not None or data_dir is not None
    if firing_rate is not None and rates_file is not None:
        raise ConfigError("give either --firing-rate or --rates, not both")
    if measuring and (firing_rate is not None or rates_file is not None):
        raise ConfigError(
            "--dataset/--samples/--data-dir measure rates; they conflict with --firing-rate and --rates"
        )
    if measuring and checkpoint is None:
        raise ConfigError("measuring firing rates needs --checkpoint (a trained spiking model)")

    from rich.console import Console

    from sbn.energy.model_inputs import shapes_and_rates

    with Console(stderr=True).status("reading the model; measuring firing rates if asked"):
        table, rates, model = shapes_and_rates(
            checkpoint,
            width=width,
            num_classes=num_classes,
            time_steps=time_steps,
            dataset=dataset,
            data_dir=data_dir,
            samples=samples,
            batch_size=batch_size,
            seed=seed,
            firing_rate=firing_rate,
            rates_file=rates_file,
            device=device,
        )
    report = estimate_energy(table, rates, snn, ann, model={"arch": arch, **model})
    if save_rates is not None:
        if rates is None:
            raise ConfigError("--save-rates: there are no firing rates to save")
        save(save_rates, rates)
    if fmt == "table":
        _print_table(report, show_layers)
    else:
        emit(render(report, fmt), out)
    if plot is not None:
        from sbn.energy.plots import plot_energy

        plot_energy(report, plot)
        note(f"wrote {plot}")


def _print_table(report, show_layers: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from sbn.energy.tables import fmt_number

    snn = report.snn_names
    ann = report.ann_preset
    out = console()
    title = (
        f"Device energy per inference, cumulative RB1..RBk  "
        f"[{report.model.get('kind')} width {report.model.get('width')}, "
        f"T {report.model.get('time_steps')}, shapes from {report.model.get('shapes_from')}]"
    )
    t = Table(title=escape(title))
    for col in [
        "split",
        "MACs",
        "SyOPs",
        f"ANN {ann.name} [mJ]",
        *(f"SNN {n} [mJ]" for n in snn),
        *(f"ANN/SNN {n}" for n in snn),
    ]:
        t.add_column(escape(col), justify="left" if col == "split" else "right")
    need = "[dim]needs rates[/dim]"
    # a split checkpoint runs only RB1..RBk on its device; the other rows are what-ifs
    split_at = report.model.get("bottleneck_split")
    for s in report.splits:
        cells = [f"{s.split} *" if s.split == split_at else s.split, fmt_number(s.macs)]
        if s.snn_mj is None:
            cells += [need, fmt_number(s.ann_mj)] + [need] * (2 * len(snn))
        else:
            cells += [fmt_number(s.syops), fmt_number(s.ann_mj)]
            cells += [fmt_number(s.snn_mj[n]) for n in snn]
            cells += [fmt_number(s.ratio(n), 3) or "-" for n in snn]
        t.add_row(*cells)
    if report.rates is None:
        t.caption = (
            "No firing rates: the spiking columns need --checkpoint (measured), "
            "--rates FILE or --firing-rate F."
        )
    else:
        r = report.rates
        t.caption = escape(f"firing rates: {r.source}" + (f", {r.samples} samples" if r.samples else ""))
    if split_at is not None:
        t.caption += escape(
            f"\n* this model's split: RB1..{split_at} run on its device; "
            "the other rows price splitting elsewhere"
        )
    out.print(t)
    if show_layers:
        lt = Table(title="Counted layers")
        for col in [
            "layer",
            "module",
            "MACs",
            "in rate",
            "T",
            "SyOPs",
            "ANN [mJ]",
            *(f"SNN {n} [mJ]" for n in snn),
        ]:
            lt.add_column(escape(col), justify="left" if col in ("layer", "module") else "right")
        for le in report.layers:
            known = le.snn_mj is not None
            lt.add_row(
                le.label,
                le.name,
                fmt_number(le.macs),
                fmt_number(le.firing_rate) if known else need,
                str(le.time_steps or "-"),
                fmt_number(le.syops) if known else need,
                fmt_number(le.ann_mj),
                *(fmt_number(le.snn_mj[n]) if known else need for n in snn),
            )
        out.print(lt)
