"""``sbn export CHECKPOINT --out DIR``: a trained spiking model -> NIR graphs + manifest."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write (created or replaced as a whole; an existing folder must "
    "be empty or hold only an earlier export's files).",
)
@click.option(
    "--split",
    default=None,
    help="Backbone checkpoints: also cut at this block (RB1..RB16) into device.nir "
    "and edge.nir. A SpikeBottleNet checkpoint is always cut at its encoder.",
)
@click.option(
    "--profile",
    default="sbn",
    show_default=True,
    help="sbn: exact, dt = 1, our conventions. portable: dt = 1e-4, r = 1, the head "
    "as one Conv2d, no per-node metadata: the form snntorch, SpikingJelly and "
    "norse load and run as we do (docs/interop.md).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Summary on stdout: a table or the manifest JSON.",
)
def export(checkpoint: Path, out: Path, split: str | None, profile: str, fmt: str) -> None:
    """Write DIR/full.nir (the whole network), DIR/device.nir and DIR/edge.nir (the two sides
    of the split) and DIR/manifest.json (payload, bits, conventions)."""
    from rich.console import Console

    from sbn.cli.outputs import own_outputs
    from sbn.graph.bundle import export_checkpoint

    own_outputs({"--out": out}, [checkpoint])
    with Console(stderr=True).status(f"exporting {checkpoint.name}"):
        manifest = export_checkpoint(checkpoint, out, split, profile)
    if fmt == "json":
        click.echo(json.dumps(manifest, indent=2))
        return
    _table(manifest, out)


def _table(manifest: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sbn export -> {out}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("model", manifest["arch"])
    table.add_row("files", ", ".join(manifest["files"].values()) + ", manifest.json")
    table.add_row("input", f"{manifest['input_shape']} x T = {manifest['time_steps']}")
    if manifest["split"] is not None:
        table.add_row("split", f"{manifest['split']} (cut after {manifest['cut_node']})")
        table.add_row("payload [T, C', H', W']", str(manifest["payload_shape"]))
        table.add_row(
            "bits per sample", f"{manifest['bits_per_sample']:,} ({manifest['bytes_per_sample']:,} bytes)"
        )
        table.add_row("raw bits", f"{manifest['raw_bits']:,}")
        table.add_row("compression ratio", f"{manifest['compression_ratio']:g}x")
    table.add_row("profile", manifest["profile"])
    table.add_row("dt", str(manifest["dt"]))
    table.add_row("readout", manifest["conventions"]["readout"])
    Console().print(table)
