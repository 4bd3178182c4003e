"""``sbn quantize EXPORT_DIR --target loihi2``: the device graph in the chip's integer formats.

Writes ``EXPORT_DIR/device.<target>.safetensors`` (integer weights, exponents, thresholds,
decays, biases; ``sbn.targets.quantize``) and records it in ``manifest.json`` under
``quantized.<target>``, so that ``sbn sim EXPORT_DIR --target <target>`` runs exactly these
numbers. A single device .nir file works too (``--out`` then names the file to write).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import click


@click.command("quantize")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--target",
    "target_spec",
    default="loihi2",
    show_default=True,
    help="Built-in target (loihi2) or a .toml/.json target file with a fixed_point table.",
)
@click.option(
    "--headroom-bits",
    type=int,
    metavar="BITS",
    default=6,
    show_default=True,
    help="Bits of the state above the threshold (more: fewer saturations, coarser threshold); "
    "the target's formats bound it: 1..17 for loihi2 (vth = 2**(17 - BITS) in a 17-bit threshold).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: device.<target>.safetensors in the export folder).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def quantize_command(source: Path, target_spec: str, headroom_bits: int, out: Path | None, fmt: str) -> None:
    """Quantise SOURCE's device graph (an `sbn export` folder or a device .nir) for a target."""
    from sbn.cli.outputs import export_files, own_outputs
    from sbn.errors import ConfigError
    from sbn.graph.io import load_nir
    from sbn.graph.manifest_read import read_manifest
    from sbn.targets import resolve_target
    from sbn.targets.quantize import is_quantisation_file, quantize, save, save_in_export

    target = resolve_target(target_spec)
    manifest = None
    if source.is_dir():
        manifest = read_manifest(source, against_graphs=False)  # the device graph is read below
        device = manifest["files"].get("device")
        if device is None:
            raise ConfigError(f"{source}: the export has no device graph (export with a split)")
        graph_path = source / device
        out = out or source / f"device.{target.name}.safetensors"
    else:
        graph_path = source
        if source.suffix.lower() == ".safetensors":
            raise ConfigError(
                f"{source}: a .safetensors file (a checkpoint or a quantisation); sbn quantize takes "
                "an `sbn export` folder or a device .nir file (sbn export CHECKPOINT --out DIR first)"
            )
        if out is None:
            raise ConfigError(f"{source}: a .nir file as SOURCE needs --out FILE (where to write)")
    own_outputs(  # an export's other files too: writing over them would break the export
        {"--out": out},
        [graph_path, *export_files(source, keep=source / f"device.{target.name}.safetensors")],
    )
    in_export = (
        manifest is not None and out.resolve() == (source / f"device.{target.name}.safetensors").resolve()
    )
    # the export's own slot is rewritten whatever it holds (a damaged file is remade)
    if not in_export and out.exists() and not is_quantisation_file(out):  # e.g. a checkpoint
        raise ConfigError(
            f"--out {out} exists and is not a file of `sbn quantize`; it replaces only its own "
            "earlier output: choose another file"
        )
    q = quantize(load_nir(graph_path), target, headroom_bits=headroom_bits)
    if in_export:
        save_in_export(source, q)  # and recorded in the manifest
    else:
        save(out, q)
    for line in coarse_warnings(q):
        click.echo(f"warning: {line}", err=True)
    if fmt == "json":
        click.echo(json.dumps(summary(q, out), indent=2))
    else:
        click.echo(_table(q, out), nl=False)


def coarse_warnings(q) -> list[str]:
    """One line per projection whose weights (non-zero in the graph) round to zero or to a
    few levels (peak |mantissa| < ``COARSE_MANTISSA``): usually too many --headroom-bits."""
    from sbn.targets.quantize import COARSE_MANTISSA

    most = 2 ** (q.format["weight_mant_bits"] - 1) - 1
    return [
        f"{name}: weights round to "
        + ("zero" if peak == 0 else f"at most {2 * peak + 1} levels")
        + f" at --headroom-bits {q.headroom_bits} (peak |mantissa| {peak} of {most}, below "
        f"{COARSE_MANTISSA}); fewer headroom bits may keep more"
        for name, peak in q.coarse.items()
    ]


def summary(q, out: Path) -> dict:
    return {
        "schema": "sbn.quantize/1",
        "file": str(out),
        "target": q.target,
        "headroom_bits": q.headroom_bits,
        "input_scale": q.input_scale,
        "notes": q.notes,
        "warnings": coarse_warnings(q),
        "neurons": {
            n.name: {
                "vth": n.vth,
                "dv": n.dv,
                "du": n.du,
                "sigma": n.sigma,
                "bias_exp_max": int(n.bias_exp.max()),
            }
            for n in q.neurons.values()
        },
        "projections": {
            p.name: {
                "kind": p.kind,
                "source": p.source,
                "target": p.target,
                "weight_exp": p.weight_exp,
                "weight_mant_peak": int(abs(p.weight_mant).max()),
                "coarse": p.name in q.coarse,
            }
            for p in q.projections.values()
        },
    }


def _table(q, out: Path) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sbn quantize -> {out} ({q.target}, headroom {q.headroom_bits} bits)")
    for col in ("neuron group", "vth", "dv", "inputs (weight exp, peak |mantissa|)"):
        table.add_column(col)
    for n in q.neurons.values():
        ins = ", ".join(f"{p.name} ({p.weight_exp}, {int(abs(p.weight_mant).max())})" for p in q.into(n.name))
        table.add_row(n.name, str(n.vth), str(n.dv), ins)
    buf = io.StringIO()
    console = Console(file=buf, width=140, force_terminal=False)
    console.print(table)
    for note in q.notes:
        console.print(f"note: {note}")
    return buf.getvalue()
