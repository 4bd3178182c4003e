"""``sbn sim EXPORT_DIR --target loihi2``: the device half in fixed point on Lava's own
processes, the edge half in float (``sbn.fixed_point``); report ``sbn.sim-fixed/1``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import click


def run_fixed(
    src,
    images,
    labels,
    *,
    target_spec: str,
    chips: int | None,
    quantized: Path | None,
    time_steps: int,
    batch_size: int,
    fuse: str,
    dataset: str,
    rates_out: Path | None,
    fmt: str,
    out: Path | None,
) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from sbn.cli.report_output import emit
    from sbn.fixed_point import evaluate_fixed, firing_rates
    from sbn.graph.io import load_nir
    from sbn.graph.rates import write_rates
    from sbn.targets import place, read_network, resolve_target
    from sbn.targets.quantize import load, require_format

    target = resolve_target(target_spec)
    if chips is not None:
        target = target.with_chips(chips)
    require_format(target)
    place(read_network(src.first), target)  # a graph that does not fit: sbn map's message
    if quantized is None and src.manifest is not None:
        name = (src.manifest.get("quantized") or {}).get(target.name)
        if name is not None:
            quantized = Path(src.label) / name
    # checked here, naming the file: its target, formats, ranges, and the device graph's shapes
    device = None if src.second is None else load_nir(Path(src.first))
    q = None if quantized is None else load(quantized, target=target, graph=device)
    if q is None:
        click.echo(f"note: no `sbn quantize` file for {target.name}; quantising with the defaults", err=True)
    err = Console(stderr=True)  # no bar (and no blank line it leaves) off a terminal
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(
            f"Lava fixed point ({target.name}): {len(labels)} sample(s), T = {time_steps}", total=None
        )
        report = evaluate_fixed(
            src,
            images,
            labels,
            target=target,
            time_steps=time_steps,
            quantized=q,
            batch_size=batch_size,
            fuse=fuse,
            dataset=dataset,
            on_chunk=lambda d, t: bar.update(task, completed=d, total=t),
        )
    report["quantization"]["file"] = None if quantized is None else str(quantized)
    for warning in report["warnings"]:  # on stderr whatever the format: a JSON reader sees them too
        click.echo(f"warning: {warning}", err=True)
    if rates_out is not None:
        write_rates(
            rates_out,
            firing_rates(report),
            time_steps=time_steps,
            source=f"lava fixed point ({target.name}) on {dataset}",
            samples=len(labels),
        )
        click.echo(f"wrote {rates_out}", err=True)
    emit(json.dumps(report, indent=2) + "\n" if fmt == "json" else table(report), out)


def table(report: dict) -> str:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=130, force_terminal=False)
    layers = Table(
        title=f"sbn sim --target {report['target']}: {report['source']} "
        f"({report['samples']} samples, T = {report['time_steps']})"
    )
    for col in (
        "neuron group",
        "neurons",
        "vth",
        "spike agreement",
        "rate fixed",
        "rate float",
        "spikes",
        "synaptic ops",
        "cores",
    ):
        layers.add_column(col, justify="right" if col != "neuron group" else "left")
    for name, v in report["layers"].items():
        cores = report["processes"].get(name, {}).get("cores") or []
        span = "-" if not cores else (f"{cores[0]}" if len(cores) == 1 else f"{cores[0]}-{cores[-1]}")
        layers.add_row(
            name,
            str(v["neurons"]),
            str(v["vth"]),
            f"{v['spike_agreement']:.3f}",
            f"{v['firing_rate_fixed']:.3f}",
            f"{v['firing_rate_float']:.3f}",
            str(v["spikes"]),
            str(v["synaptic_ops"]),
            span,
        )
    console.print(layers)
    a, e, b = report["accuracy"], report["energy"], report["bytes_per_sample"]
    console.print(
        f"accuracy fixed {a['fixed']:.3f} | float {a['float']:.3f} | predictions agree "
        f"{report['prediction_agreement']:.3f} | payload {b['measured']} bytes/sample (manifest "
        f"{b['manifest']}), firing {report['payload_firing_rate']:.3f} | "
        f"{e['synaptic_ops_per_sample']:.0f} synaptic ops/sample = "
        f"{e['device_energy_per_sample_j'] * 1e6:.3f} uJ at {e['energy_per_synaptic_op_j'] * 1e12:.1f} pJ/op | "
        f"{len(report['processes'])} Lava processes, latency {report['latency_steps']} steps | "
        f"{report['wall_s_per_sample']:.2f} s/sample"
    )
    for note in report["quantization"]["notes"]:
        console.print(f"note: {note}")
    return buf.getvalue()
