"""``sbn sim EXPORT_DIR | GRAPH.nir``: run images through Lava, device and edge as two networks.

Reports per-sample predictions, accuracy, agreement with the reference executor (and with
the PyTorch model given ``--checkpoint``), the measured bytes on the wire per sample (checked
against the manifest) and the wall time per sample. JSON schema ``sbn.sim/1``.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from sbn.errors import ConfigError, SimulationError

SCHEMA = "sbn.sim/1"


def _resolve(source: Path, edge: Path | None) -> tuple[Path, Path | None, dict | None]:
    """(first graph, edge graph or None, manifest or None) from a folder or .nir files."""
    if source.is_dir():
        mpath = source / "manifest.json"
        if not mpath.is_file():
            raise ConfigError(f"{source}: no manifest.json; give an `sbn export` folder or a .nir file")
        manifest = json.loads(mpath.read_text())
        if manifest.get("schema") != "sbn.manifest/1":
            raise ConfigError(f"{mpath}: schema {manifest.get('schema')!r}, expected 'sbn.manifest/1'")
        files = manifest.get("files", {})
        if edge is not None:
            raise ConfigError("--edge goes with a device .nir file, not with an export folder")
        if "device" in files and "edge" in files:
            return source / files["device"], source / files["edge"], manifest
        return source / files.get("full", "full.nir"), None, manifest
    return source, edge, None


@click.command("sim")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--edge", "edge", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Edge graph, when SOURCE is a device .nir file.")
@click.option("--samples", type=click.IntRange(min=1), default=8, show_default=True,
              help="Test images to run (the first N).")
@click.option("--dataset", default="digits", show_default=True, help="digits, cifar10, cifar100.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the CIFAR files are (digits needs none).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Also compare predictions with this PyTorch checkpoint.")
@click.option("--time-steps", type=click.IntRange(min=1), default=None,
              help="T, for graphs whose metadata states none.")
@click.option("--fuse", type=click.Choice(["block", "node", "graph"]), default="block",
              show_default=True, help="NIR nodes per Lava process (see docs/lava.md).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Samples run side by side per Lava runtime.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the output here (atomically) instead of stdout.")
def sim(source, edge, samples, dataset, data_dir, checkpoint, time_steps, fuse, batch_size, fmt, out):
    """Simulate SOURCE (an `sbn export` folder, or a .nir file) in Lava on test images."""
    from sbn import __version__
    from sbn.data import load_dataset
    from sbn.fileio import write_text
    from sbn.graph import execute
    from sbn.targets.lava import encode, load_graph, simulate, simulate_split
    from sbn.targets.lava.split import time_steps_of

    first, second, manifest = _resolve(source, edge)
    data = load_dataset(dataset, root=data_dir)
    n = min(samples, len(data.labels))
    images = data.images[:n].double().numpy()
    labels = data.labels[:n].numpy()
    g1 = load_graph(first)
    t = time_steps_of(g1, time_steps or (manifest or {}).get("time_steps"))
    start = time.perf_counter()
    with Console(stderr=True).status(f"Lava: {n} sample(s), T = {t}"):
        if second is not None:
            g2 = load_graph(second)
            run = simulate_split(g1, g2, images, time_steps=t, fuse=fuse, batch_size=batch_size)
            outputs, wire = run.outputs, run.bytes_per_sample
            processes = {"device": run.device.processes, "edge": run.edge.processes}
            latency = {"device": max(run.device.latency.values()), "edge": max(run.edge.latency.values())}
            ref_dev = next(iter(execute(g1, encode(images, t)).outputs.values()))
            ref = next(iter(execute(g2, ref_dev).outputs.values()))
        else:
            single = simulate(g1, encode(images, t), fuse=fuse, batch_size=batch_size)
            if len(single.outputs) != 1:
                raise SimulationError(f"{first}: expected one Output node, found {sorted(single.outputs)}")
            outputs, wire = next(iter(single.outputs.values())), None
            processes, latency = {"graph": single.processes}, {"graph": max(single.latency.values())}
            ref = next(iter(execute(g1, encode(images, t)).outputs.values()))
    wall = time.perf_counter() - start
    logits = outputs.mean(axis=0).reshape(n, -1)
    preds = logits.argmax(axis=1)
    ref_preds = ref.mean(axis=0).reshape(n, -1).argmax(axis=1)
    torch_preds = _torch_predictions(checkpoint, images) if checkpoint else None
    expected = None
    if manifest is not None and manifest.get("bits_per_sample") is not None:
        expected = -(-int(manifest["bits_per_sample"]) // 8)
    if wire is not None and expected is not None and any(b != expected for b in wire):
        raise SimulationError(f"measured {sorted(set(wire))} bytes per sample, the manifest says {expected}")
    report = {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "source": str(source),
        "graphs": {"device": str(first), "edge": str(second)} if second else {"full": str(first)},
        "dataset": dataset,
        "samples": n,
        "time_steps": t,
        "fuse": fuse,
        "processes": processes,
        "latency_steps": latency,
        "accuracy": float((preds == labels).mean()),
        "agreement": {
            "executor_outputs_identical": bool(np.array_equal(outputs, ref)),
            "executor_predictions": float((preds == ref_preds).mean()),
            "pytorch_predictions": None if torch_preds is None else float((preds == torch_preds).mean()),
        },
        "bytes_per_sample": {"measured": None if wire is None else int(max(wire)), "manifest": expected},
        "wall_s_per_sample": wall / n,
        "results": [
            {"index": i, "label": int(labels[i]), "prediction": int(preds[i]),
             "executor": int(ref_preds[i]),
             "pytorch": None if torch_preds is None else int(torch_preds[i]),
             "bytes": None if wire is None else int(wire[i])}
            for i in range(n)
        ],
    }
    text = json.dumps(report, indent=2) + "\n" if fmt == "json" else _table(report)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_text(out, text)
        click.echo(f"wrote {out}", err=True)


def _torch_predictions(path: Path, images: np.ndarray) -> np.ndarray:
    import torch

    from sbn import checkpoint as ckpt_io

    model = ckpt_io.load(path).build().double()
    with torch.no_grad():
        logits = model(torch.from_numpy(images))
    return logits.numpy().argmax(axis=1)


def _table(report: dict) -> str:
    table = Table(title=f"sbn sim: {report['source']} ({report['samples']} samples, T = "
                        f"{report['time_steps']}, fuse {report['fuse']})")
    for col in ("sample", "label", "lava", "executor", "pytorch", "bytes"):
        table.add_column(col, justify="right")
    for r in report["results"]:
        table.add_row(*(("-" if r[k] is None else str(r[k]))
                        for k in ("index", "label", "prediction", "executor", "pytorch", "bytes")))
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=False)
    console.print(table)
    a, b = report["agreement"], report["bytes_per_sample"]
    console.print(
        f"accuracy {report['accuracy']:.3f} | executor: outputs identical "
        f"{a['executor_outputs_identical']}, predictions {a['executor_predictions']:.3f} | pytorch "
        f"{'-' if a['pytorch_predictions'] is None else format(a['pytorch_predictions'], '.3f')} | "
        f"bytes/sample {b['measured']} (manifest {b['manifest']}) | "
        f"{report['wall_s_per_sample']:.2f} s/sample | processes {report['processes']} | "
        f"latency {report['latency_steps']} steps")
    return buf.getvalue()
