"""The steps of ``sbn demo``, each with its stamp: a step whose key and outputs still match
its stamp is reused (``sbn.demo_stamps``); otherwise it runs and writes its artefacts. Each
returns the report's entry for its step; ``sbn.demo.run_demo`` runs them in order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbn import checkpoint as ckpt_io
from sbn.data import ImageDataset
from sbn.errors import ConfigError
from sbn.fileio import write_json
from sbn.models import ModelConfig, split_label
from sbn.models.accounting import payload
from sbn.train import train

if TYPE_CHECKING:
    from sbn.demo import DemoSettings

#: the noise plot: the issue's bit-error rates, the codecs that show the range of fragility
DEMO_CHANNELS = ("bsc:1e-4", "bsc:1e-3", "bsc:1e-2")
DEMO_CODECS = ("bitmap", "aer", "rle", "zlib")

#: samples per Lava runtime in the demo: small enough that progress shows, large enough that
#: the runtime start (about a second) stays a small part of each chunk
LAVA_CHUNK = 8


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _export_manifest(export_dir: Path) -> dict[str, Any]:
    """The export's manifest as the export wrote it: the steps' keys depend on it, and the
    quantisation entries that the fixed-point step adds are not an input of any step."""
    from sbn.graph.manifest_read import read_manifest

    manifest = read_manifest(export_dir, against_graphs=False)
    manifest.pop("quantized", None)
    return manifest


def _manifest_readable(export_dir: Path) -> bool:
    """The manifest is rewritten by the fixed-point step (its ``quantized`` entry), so its
    stamp is its being a valid manifest of these graphs rather than a hash."""
    from sbn.graph.manifest_read import read_manifest

    try:
        read_manifest(export_dir)
    except ConfigError:
        return False
    return True


def train_step(name, stamps, hooks, path, config, settings, train_data, test_data, backbone, label=None):
    """Train ``config`` into ``path`` (from ``backbone``'s weights, if given); its summary."""
    parent = ckpt_io.file_sha256(backbone) if backbone else None
    key = _key(config.to_dict(), settings.to_dict(), parent)
    summary_path = path.with_suffix(".json")
    reuse = stamps.fresh(name, key, path, summary_path)
    hooks.step(label or f"train {name}", reuse)
    if reuse:
        return json.loads(summary_path.read_text())
    path.unlink(missing_ok=True)  # stale: other settings or another backbone
    progress = hooks.training(settings.epochs) if hooks.training else None
    kwargs = {}
    if backbone is not None:
        kwargs = dict(backbone=ckpt_io.load(backbone), backbone_path=backbone)
    # a front end's progress may be a context manager (bars drawn while it is open)
    with progress if hasattr(progress, "__enter__") else contextlib.nullcontext():
        result = train(config, settings, train_data, test_data, path, progress=progress, **kwargs)
    write_json(summary_path, result.summary)
    stamps.mark(name, key)
    return result.summary


def export_step(
    stamps, hooks, sbn_path, export_dir, name="export", label="export NIR + partition"
) -> dict[str, Any]:
    from sbn.graph.bundle import export_checkpoint

    key = _key(ckpt_io.file_sha256(sbn_path))
    graphs = [export_dir / f"{part}.nir" for part in ("full", "device", "edge")]
    reuse = stamps.fresh(name, key, *graphs) and _manifest_readable(export_dir)
    hooks.step(label, reuse)
    if not reuse:
        if export_dir.exists():
            shutil.rmtree(export_dir)
        export_checkpoint(sbn_path, export_dir)
        stamps.mark(name, key)
    return _export_manifest(export_dir)


def map_step(stamps, hooks, export_dir, target_name, out) -> dict[str, Any]:
    from sbn.targets import place, read_network, report_dict, resolve_target

    key = _key(_export_manifest(export_dir), target_name)
    path = out / "map.json"
    reuse = stamps.fresh("map", key, path)
    hooks.step(f"map device + edge onto {target_name}", reuse)
    if not reuse:
        target = resolve_target(target_name)
        maps = {}
        for part in ("device", "edge"):
            placement = place(read_network(export_dir / f"{part}.nir"), target)
            maps[part] = report_dict(placement, None, None)
        write_json(path, maps)
        stamps.mark("map", key)
    maps = json.loads(path.read_text())
    return {part: maps[part]["summary"] for part in maps}


def lava_step(
    stamps, hooks, sbn_path, export_dir, test_data: ImageDataset, settings: DemoSettings, out: Path
) -> dict[str, Any]:
    from sbn.simulation import SimSource, simulate_dataset

    manifest = _export_manifest(export_dir)
    key = _key(manifest, settings.lava_samples, "sim/2")  # a lava.json of another schema is redone
    path = out / "lava.json"
    reuse = stamps.fresh("lava", key, path)
    hooks.step(f"simulate {settings.lava_samples} test samples in Lava (device -> payload -> edge)", reuse)
    if not reuse:
        data = test_data.subset(settings.lava_samples)
        result = simulate_dataset(
            SimSource.resolve(export_dir),
            data.images.double().numpy(),
            data.labels.numpy(),
            time_steps=int(manifest["time_steps"]),
            checkpoint=str(sbn_path),
            dataset=data.name,
            on_chunk=hooks.lava_chunk,
            chunk_size=LAVA_CHUNK,
        )
        write_json(path, result)
        stamps.mark("lava", key)
    r = json.loads(path.read_text())
    return {
        "file": path.name,
        "samples": r["simulated"],
        "failed": r["failed"],
        "lava_accuracy": r["accuracy"],
        "pytorch_accuracy": r["pytorch_accuracy"],
        "agreement": r["agreement"]["pytorch_predictions"],
        "executor_outputs_identical": r["agreement"]["executor_outputs_identical"],
        "payload_identical_to_executor": r["agreement"]["payload_identical_to_executor"],
        "bytes_per_sample": r["bytes_per_sample"]["bitmap"],
        "manifest_bytes_per_sample": r["bytes_per_sample"]["manifest"],
        "bytes_per_sample_by_codec": {k: v["mean"] for k, v in r["wire"]["bytes_per_sample"].items()},
        "payload_firing_rate": r["payload_firing_rate"],
        "wall_s_per_sample": r["wall_s_per_sample"],
    }


def channel_step(
    stamps, hooks, export_dir, test_data: ImageDataset, settings: DemoSettings, out: Path
) -> dict[str, Any]:
    """The Lava samples through bit errors, per codec: the device and edge graphs in the
    reference executor (Lava's spikes are the executor's), a few seconds."""
    from sbn.graph.io import load_nir
    from sbn.noise_curves import accuracy_under_noise
    from sbn.noise_plots import plot_noise_curves

    manifest = _export_manifest(export_dir)
    key = _key(manifest, settings.lava_samples, settings.seed, DEMO_CHANNELS, DEMO_CODECS, "channel/1")
    path, plot = out / "channel.json", out / "channel.png"
    reuse = stamps.fresh("channel", key, path, plot)
    hooks.step(
        f"accuracy through bit errors per payload codec ({settings.lava_samples} samples, "
        "reference executor) + plot",
        reuse,
    )
    if not reuse:
        data = test_data.subset(settings.lava_samples)
        files = manifest["files"]
        result = accuracy_under_noise(
            load_nir(export_dir / files["device"]),
            load_nir(export_dir / files["edge"]),
            data.images.double().numpy(),
            data.labels.numpy(),
            time_steps=int(manifest["time_steps"]),
            codecs=DEMO_CODECS,
            channels=DEMO_CHANNELS,
            seed=settings.seed,
        )
        write_json(path, result)
        plot_noise_curves(result, plot)
        stamps.mark("channel", key)
    r = json.loads(path.read_text())
    table: dict[str, dict[str, Any]] = {}
    for row in r["results"]:
        table.setdefault(row["codec"], {})[row["channel"]] = {
            "accuracy": row["accuracy"],
            "lost_frames": row["lost_frames"],
        }
    return {
        "file": path.name,
        "plot": plot.name,
        "samples": r["samples"],
        "clean_accuracy": r["clean_accuracy"],
        "channels": list(DEMO_CHANNELS),
        "bytes_per_sample": {c: v["bytes_per_sample"]["mean"] for c, v in r["codecs"].items()},
        "results": table,
    }


def fixed_step(
    stamps, hooks, export_dir, test_data: ImageDataset, settings: DemoSettings, out: Path
) -> dict[str, Any]:
    """The device graph quantised for the target and run on Lava's own fixed-point processes."""
    from sbn.fixed_point import evaluate_fixed, firing_rates
    from sbn.graph.io import load_nir
    from sbn.graph.rates import write_rates
    from sbn.simulation import SimSource
    from sbn.targets import resolve_target
    from sbn.targets.quantize import quantize, save_in_export

    manifest = _export_manifest(export_dir)
    key = _key(manifest, settings.fixed_samples, settings.target, "fixed/1")
    path = out / "lava-fixed.json"
    reuse = stamps.fresh("fixed", key, path, out / "rates-fixed.json")
    hooks.step(
        f"quantise the device graph for {settings.target}; run it on Lava's fixed-point "
        f"processes ({settings.fixed_samples} samples)",
        reuse,
    )
    target = resolve_target(settings.target)  # with a fixed-point format: run_demo checked
    if not reuse:
        source = SimSource.resolve(export_dir)
        q = quantize(load_nir(Path(source.first)), target)
        save_in_export(export_dir, q)
        data = test_data.subset(settings.fixed_samples)
        result = evaluate_fixed(
            source,
            data.images.double().numpy(),
            data.labels.numpy(),
            target=target,
            time_steps=int(manifest["time_steps"]),
            quantized=q,
            dataset=data.name,
            on_chunk=hooks.lava_chunk,
        )
        write_rates(
            out / "rates-fixed.json",
            firing_rates(result),
            time_steps=int(manifest["time_steps"]),
            source=f"lava fixed point ({target.name}) on {data.name}",
            samples=len(data.labels),
        )
        write_json(path, result)
        stamps.mark("fixed", key)
    r = json.loads(path.read_text())
    agreement = [v["spike_agreement"] for v in r["layers"].values()]
    return {
        "file": path.name,
        "export": export_dir.name,
        "quantisation_aware_epochs": settings.qat_epochs if settings.quantisation_aware() else 0,
        "target": r["target"],
        "samples": r["samples"],
        "fixed_accuracy": r["accuracy"]["fixed"],
        "float_accuracy": r["accuracy"]["float"],
        "prediction_agreement": r["prediction_agreement"],
        "spike_agreement_min": min(agreement),
        "spike_agreement_mean": float(sum(agreement) / len(agreement)),
        "synaptic_ops_per_sample": r["energy"]["synaptic_ops_per_sample"],
        "device_energy_per_sample_j": r["energy"]["device_energy_per_sample_j"],
        "bytes_per_sample": r["bytes_per_sample"]["measured"],
        "wall_s_per_sample": r["wall_s_per_sample"],
    }


def energy_step(stamps, hooks, backbone_path, test_data, settings, out) -> dict[str, Any]:
    from sbn.energy import (
        DEFAULT_SNN_PRESETS,
        estimate_energy,
        layer_table,
        measure_firing_rates,
        resolve_preset,
    )
    from sbn.energy.plots import plot_energy
    from sbn.energy.report import to_dict

    key = _key(ckpt_io.file_sha256(backbone_path), settings.lava_samples)
    path, plot = out / "energy.json", out / "energy.png"
    reuse = stamps.fresh("energy", key, path, plot)
    hooks.step("device energy per split point (45 nm, ROLLS, Loihi) + plot", reuse)
    if not reuse:
        model = ckpt_io.load(backbone_path).build()
        images = test_data.images[: max(settings.lava_samples, 64)]
        rates = measure_firing_rates(model, images, source="pytorch")
        presets = [resolve_preset(p) for p in (*DEFAULT_SNN_PRESETS, "loihi2")]
        report = estimate_energy(
            layer_table(model),
            rates,
            presets,
            resolve_preset("45nm"),
            model={"checkpoint": backbone_path.name},
        )
        write_json(path, to_dict(report))
        plot_energy(report, plot)
        stamps.mark("energy", key)
    data = json.loads(path.read_text())
    split = split_label(
        settings.bottleneck().split
    )  # energy.json labels its splits ("RB7"); the config's is an int
    row = next(s for s in data["splits"] if s["split"] == split)
    return {"file": path.name, "plot": plot.name, "at_split": {k: v for k, v in row.items() if k != "layers"}}


def bits_step(stamps, hooks, config: ModelConfig, out: Path) -> dict[str, Any]:
    from sbn.energy.bits import uniform_table, write_bits
    from sbn.energy.plots import plot_bits

    b = config.bottleneck
    key = _key(config.to_dict(), "bits/2")
    path, plot = out / "bits.json", out / "bits.png"
    reuse = stamps.fresh("bits", key, path, plot)
    hooks.step("bits per split point + plot", reuse)
    if not reuse:
        base = config.with_bottleneck(None)
        table = uniform_table(base, b.channels, b.stride)
        write_bits(path, table, model={"arch": config.arch, "width": config.width})
        plot_bits(table, plot)
        stamps.mark("bits", key)
    p = payload(config)
    return {
        "file": path.name,
        "plot": plot.name,
        "split": p.split,
        "transmitted_bits": p.spiking_bits,
        "baseline_bits": p.baseline_bits,
        "raw_bits": p.raw_bits,
        "compression_ratio": p.compression_ratio,
        "reduction_vs_bottlenetpp_pct": p.reduction_vs_baseline,
    }
