"""``sbn demo``: the whole pipeline on the bundled digits, into one report folder.

    backbone  -> fine-tuned SpikeBottleNet -> NIR export (full/device/edge) -> core map
              -> Lava: device -> packed payload -> edge -> accuracy and agreement
              -> accuracy through bit errors per payload codec (reference executor)
              -> quantisation-aware fine-tune -> its device half in the target's fixed point on
                 Lava's own Conv/LIF processes, against its float run
              -> energy per split point and bits, with plots -> report.json / report.md

Every step writes its artefact atomically and records a stamp of its inputs and outputs
(``sbn.demo_stamps``); a second run reuses each artefact whose stamp still matches and redoes
only what changed or was damaged (``fresh`` redoes everything).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from sbn import __version__
from sbn import checkpoint as ckpt_io
from sbn.data import ImageDataset, load_dataset
from sbn.demo_stamps import FILE as STAMPS_FILE
from sbn.demo_stamps import Stamps
from sbn.errors import ConfigError
from sbn.fileio import write_json, write_text
from sbn.models import BottleneckConfig, ModelConfig, parse_split, split_label
from sbn.models.accounting import payload
from sbn.train import Progress, TrainSettings, finetune_config, train

SCHEMA = "sbn.demo/1"
#: the quantisation-aware fine-tune before rounding to the target's fixed point (measured on
#: the demo: 2 epochs, 67 s, take the Loihi 2 device from -6.3 to 0.0 points against float
#: on 128 test digits; docs/loihi.md)
QAT_BATCH_SIZE = 64
QAT_LR = 1e-3
#: the noise plot: the issue's bit-error rates, the codecs that show the range of fragility
DEMO_CHANNELS = ("bsc:1e-4", "bsc:1e-3", "bsc:1e-2")
DEMO_CODECS = ("bitmap", "aer", "rle", "zlib")

#: samples per Lava runtime in the demo: small enough that progress shows, large enough that
#: the runtime start (about a second) stays a small part of each chunk
LAVA_CHUNK = 8


@dataclass(frozen=True)
class DemoSettings:
    width: float = 0.125
    time_steps: int = 2
    split: str = "RB7"
    channels: int = 8
    stride: int = 1
    epochs: int = 12
    finetune_epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-2
    lava_samples: int = 32
    target: str = "loihi2"
    seed: int = 0
    #: quantisation-aware epochs before the fixed-point run (0: round the fine-tuned model)
    qat_epochs: int = 2
    #: test samples of the fixed-point run: Lava's fixed-point processes start in seconds and
    #: run a sample in about 1.2 s here, and 32 samples (3 points each) say little about a
    #: difference of a point or two
    fixed_samples: int = 64

    def __post_init__(self) -> None:
        if self.lava_samples < 1 or self.fixed_samples < 1:
            raise ConfigError("--samples and --fixed-samples must be >= 1")
        if self.epochs < 1 or self.finetune_epochs < 1:
            raise ConfigError("--epochs and --finetune-epochs must be >= 1")
        if self.qat_epochs < 0:
            raise ConfigError(f"--qat-epochs must be >= 0, got {self.qat_epochs}")

    def quantisation_aware(self) -> bool:
        """Whether the fixed-point run gets its own quantisation-aware fine-tune first."""
        from sbn.targets import resolve_target

        return self.qat_epochs > 0 and resolve_target(self.target).fixed_point is not None

    def steps(self) -> int:
        """How many steps ``run_demo`` reports through ``hooks.step``."""
        return 11 if self.quantisation_aware() else 9

    def check_target(self) -> None:
        """ConfigError, before any work, for a target some step cannot run on: the
        fixed-point run needs the target's fixed-point format, the core map needs both
        halves of this model to fit it (the demo has no --chips to enlarge a board)."""
        from sbn.targets import get_target, known_targets, resolve_target

        halves = self._halves()
        problem = _target_problem(resolve_target(self.target), halves)
        if problem is None:
            return
        usable = [n for n in known_targets() if _target_problem(get_target(n), halves) is None]
        raise ConfigError(
            f"--target {self.target}: {problem}; the demo runs on "
            f"{', '.join(usable) or 'no built-in target at these settings'} (or a .toml/.json "
            "target file with a fixed-point format that holds both halves)"
        )

    def _halves(self) -> dict[str, Any]:
        """The device and edge networks of this model as the export cuts them (untrained
        weights: placement reads only shapes; a tenth of a second at the defaults)."""
        from sbn.graph.export import export_nir
        from sbn.graph.partition import partition, split_points
        from sbn.models import build_model
        from sbn.targets import network_from_nir

        config = finetune_config(self.backbone_config(), self.bottleneck(), None)
        graph = export_nir(build_model(config).eval())
        parts = partition(graph, split_points(graph)[split_label(config.bottleneck.split)])
        return {name: network_from_nir(part) for name, part in zip(("device", "edge"), parts)}

    def backbone_config(self) -> ModelConfig:
        return ModelConfig(num_classes=10, width=self.width, time_steps=self.time_steps)

    def bottleneck(self) -> BottleneckConfig:
        config = self.backbone_config()
        return BottleneckConfig(parse_split(self.split, config.num_blocks), self.channels, self.stride)


def _target_problem(target, halves: dict[str, Any]) -> str | None:
    """Why ``target`` cannot take every demo step, or None."""
    from sbn.errors import MappingError, OutOfCores
    from sbn.targets import place

    if target.fixed_point is None:
        return f"{target.name} states no fixed-point format (the fixed-point run needs one)"
    for name, network in halves.items():
        try:
            place(network, target)
        except MappingError as exc:
            # without the placer's hint (try --chips N): the demo has no such option
            reason = exc.reason if isinstance(exc, OutOfCores) else str(exc)
            return f"the demo model's {name} half does not fit {target.name} ({reason})"
    return None


def check_out(out: Path, fresh: bool) -> None:
    """ConfigError unless ``out`` is absent, empty, or an earlier demo run (it has the
    demo's stamps file): the demo writes, and with ``fresh`` clears, only its own folder."""
    if not out.exists() or (out / STAMPS_FILE).exists() or not any(out.iterdir()):
        return
    raise ConfigError(
        f"--out {out} is not a demo folder (no {STAMPS_FILE}) and not empty: refusing to "
        f"{'clear' if fresh else 'write into'} it; give a new or empty folder, or an earlier sbn demo run's"
    )


@dataclass
class DemoHooks:
    """How a front end follows along; the library prints nothing."""

    step: Callable[[str, bool], None] = lambda name, reused: None
    training: Callable[[int], Progress] | None = None
    #: (chunks done, chunks in all) while Lava runs the test samples
    lava_chunk: Callable[[int, int], None] | None = None


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_demo(
    out: str | Path, settings: DemoSettings, *, fresh: bool = False, hooks: DemoHooks | None = None
) -> dict[str, Any]:
    """Run (or reuse) every step; returns the report (schema ``sbn.demo/1``)."""
    out = Path(out)
    hooks = hooks or DemoHooks()
    # refused before any work: a target some step cannot use, a folder not the demo's
    settings.check_target()
    check_out(out, fresh)
    if fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    stamps = Stamps(out)
    stamps.claim()
    started = time.time()
    torch.manual_seed(settings.seed)
    train_data = load_dataset("digits", train=True)
    test_data = load_dataset("digits", train=False)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "tool_version": __version__,
        "settings": asdict(settings),
        "dataset": "digits",
    }

    backbone_path = out / "backbone.safetensors"
    backbone_summary = _train_step(
        "backbone",
        stamps,
        hooks,
        backbone_path,
        settings.backbone_config(),
        TrainSettings(
            epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr, seed=settings.seed
        ),
        train_data,
        test_data,
        backbone=None,
    )
    sbn_path = out / "spikebottlenet.safetensors"
    sbn_config = finetune_config(settings.backbone_config(), settings.bottleneck(), None)
    sbn_summary = _train_step(
        "finetune",
        stamps,
        hooks,
        sbn_path,
        sbn_config,
        TrainSettings(
            epochs=settings.finetune_epochs,
            batch_size=settings.batch_size,
            lr=settings.lr / 3,
            seed=settings.seed,
        ),
        train_data,
        test_data,
        backbone=backbone_path,
    )
    report["training"] = {"backbone": _brief(backbone_summary), "spikebottlenet": _brief(sbn_summary)}

    export_dir = out / "export"
    report["export"] = _export_step(stamps, hooks, sbn_path, export_dir)
    report["map"] = _map_step(stamps, hooks, export_dir, settings.target, out)
    report["lava"] = _lava_step(stamps, hooks, sbn_path, export_dir, test_data, settings, out)
    report["channel"] = _channel_step(stamps, hooks, export_dir, test_data, settings, out)
    fixed_export = export_dir
    if settings.quantisation_aware():
        qat_path = out / f"spikebottlenet-{settings.target}.safetensors"
        qat_summary = _train_step(
            "qat",
            stamps,
            hooks,
            qat_path,
            sbn_config,
            TrainSettings(
                epochs=settings.qat_epochs,
                batch_size=QAT_BATCH_SIZE,
                lr=QAT_LR,
                seed=settings.seed,
                quantize=settings.target,
            ),
            train_data,
            test_data,
            backbone=sbn_path,
            label=f"quantisation-aware fine-tune for {settings.target} ({settings.qat_epochs} epochs)",
        )
        report["training"]["quantisation_aware"] = _brief(qat_summary)
        fixed_export = out / f"export-{settings.target}"
        _export_step(
            stamps,
            hooks,
            qat_path,
            fixed_export,
            name="export-qat",
            label="export the quantisation-aware model to NIR",
        )
    report["fixed_point"] = _fixed_step(stamps, hooks, fixed_export, test_data, settings, out)
    report["energy"] = _energy_step(stamps, hooks, backbone_path, test_data, settings, out)
    report["bits"] = _bits_step(stamps, hooks, sbn_config, out)
    report["seconds"] = time.time() - started
    write_json(out / "report.json", report)
    write_text(out / "report.md", render_markdown(report))
    return report


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


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "checkpoint",
        "checkpoint_sha256",
        "arch",
        "epochs",
        "accuracy",
        "split",
        "backbone_accuracy",
        "accuracy_drop",
        "payload_shape",
        "transmitted_bits",
        "raw_bits",
        "compression_ratio",
        "float_accuracy",
        "quantized_accuracy_before",
        "seconds",
    )
    return {k: summary[k] for k in keep if k in summary}


def _train_step(name, stamps, hooks, path, config, settings, train_data, test_data, backbone, label=None):
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


def _export_step(
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


def _map_step(stamps, hooks, export_dir, target_name, out) -> dict[str, Any]:
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


def _lava_step(
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


def _channel_step(
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


def _channel_rows(ch: dict[str, Any] | None) -> list[str]:
    if not ch:
        return []
    rates = " / ".join(c.split(":", 1)[1] for c in ch["channels"])
    return [
        f"| accuracy at bit-error rate {rates}, {codec} ({ch['bytes_per_sample'][codec]:,.0f} "
        f"bytes/sample) on {ch['samples']} samples | "
        + " / ".join(f"{row[c]['accuracy']:.1%} ({row[c]['lost_frames']} lost)" for c in ch["channels"])
        + " |"
        for codec, row in ch["results"].items()
    ]


def _fixed_step(
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
    target = resolve_target(settings.target)
    if target.fixed_point is None:
        return {"skipped": f"target {target.name} states no fixed-point format"}
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


def _energy_step(stamps, hooks, backbone_path, test_data, settings, out) -> dict[str, Any]:
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
    split = split_label(settings.bottleneck().split)  # "rb07" -> "RB7"
    row = next(s for s in data["splits"] if s["split"] == split)
    return {"file": path.name, "plot": plot.name, "at_split": {k: v for k, v in row.items() if k != "layers"}}


def _bits_step(stamps, hooks, config: ModelConfig, out: Path) -> dict[str, Any]:
    from sbn.energy.bits import to_dict, uniform_table
    from sbn.energy.plots import plot_bits

    b = config.bottleneck
    key = _key(config.to_dict(), "bits/2")
    path, plot = out / "bits.json", out / "bits.png"
    reuse = stamps.fresh("bits", key, path, plot)
    hooks.step("bits per split point + plot", reuse)
    if not reuse:
        base = config.with_bottleneck(None)
        table = uniform_table(base, b.channels, b.stride)
        write_json(path, to_dict(table, model={"arch": config.arch, "width": config.width}))
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


def _fixed_rows(fx: dict[str, Any] | None) -> list[str]:
    if not fx or "skipped" in fx:
        return [] if not fx else [f"| device in fixed point | skipped: {fx['skipped']} |"]
    epochs = fx.get("quantisation_aware_epochs", 0)
    model = (
        f"the SpikeBottleNet after {epochs} quantisation-aware epochs"
        if epochs
        else "the SpikeBottleNet rounded as trained"
    )
    return [
        f"| device in {fx['target']} fixed point on Lava's Conv/LIF processes ({model}): accuracy on "
        f"{fx['samples']} samples | {fx['fixed_accuracy']:.2%} |",
        f"| the same samples with that model's device in float | {fx['float_accuracy']:.2%} |",
        f"| fixed / float prediction agreement | {fx['prediction_agreement']:.2%} |",
        f"| fixed / float spike agreement per layer (mean, lowest) | {fx['spike_agreement_mean']:.3f}, "
        f"{fx['spike_agreement_min']:.3f} |",
        f"| synaptic ops per sample, measured in Lava | {fx['synaptic_ops_per_sample']:,.0f} "
        f"({1e6 * fx['device_energy_per_sample_j']:.3g} uJ on {fx['target']}) |",
    ]


def render_markdown(report: dict[str, Any]) -> str:
    t = report["training"]
    s = report["settings"]
    lava = report["lava"]
    bits = report["bits"]
    e = report["energy"]["at_split"]
    lines = [
        "# SpikeBottleNet demo report",
        "",
        f"sbn {report['tool_version']}, digits, width {s['width']}, T = {s['time_steps']}, "
        f"bottleneck after {s['split']} with C' = {s['channels']}, stride {s['stride']}.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| backbone test accuracy (PyTorch) | {t['backbone']['accuracy']:.2%} |",
        f"| SpikeBottleNet test accuracy (PyTorch) | {t['spikebottlenet']['accuracy']:.2%} |",
        f"| accuracy drop vs backbone | {100 * t['spikebottlenet']['accuracy_drop']:+.2f} points |",
        f"| Lava accuracy on {lava['samples']} test samples | {lava['lava_accuracy']:.2%} |",
        f"| PyTorch accuracy on the same samples | {lava['pytorch_accuracy']:.2%} |",
        f"| Lava / PyTorch prediction agreement | {lava['agreement']:.2%} |",
        f"| Lava / reference-executor payload spikes identical | {lava['payload_identical_to_executor']} |",
        f"| bits per sample on the wire (measured) | {8 * lava['bytes_per_sample']:,} ({lava['bytes_per_sample']:,} bytes) |",
        *_channel_rows(report.get("channel")),
        *_fixed_rows(report.get("fixed_point")),
        f"| transmitted bits (manifest) | {bits['transmitted_bits']:,} |",
        f"| raw bits at the split | {bits['raw_bits']:,} |",
        f"| compression ratio | {bits['compression_ratio']:.1f}x |",
        f"| reduction vs BottleNet++ (8-bit) | {bits['reduction_vs_bottlenetpp_pct']:.1f} % |",
        f"| device energy to {s['split']}, BottleNet++ 45 nm | {e['ann_mj']:.3g} mJ |",
    ]
    for key, value in e.items():
        if key.startswith("snn_") and key.endswith("_mj") and value is not None:
            lines.append(f"| device energy to {s['split']}, SpikeBottleNet {key[4:-3]} | {value:.3g} mJ |")
    for part, summary in report["map"].items():
        lines.append(
            f"| {part} graph on {s['target']} | {summary.get('cores_used')} cores, "
            f"{summary.get('chips_used')} chip(s) |"
        )
    fixed_in = report["fixed_point"].get("export", "export")  # the quantised model's folder
    quantised = f"{fixed_in}/device.{s['target']}.safetensors"
    qat = (
        f"spikebottlenet-{s['target']}.safetensors and {fixed_in}/ (the quantisation-aware model), "
        if fixed_in != "export"
        else ""
    )
    lines += [
        "",
        "Files: backbone.safetensors, spikebottlenet.safetensors, export/ (full.nir, device.nir, "
        f"edge.nir, manifest.json), map.json, lava.json, channel.json, channel.png, {qat}{quantised}, "
        "lava-fixed.json, rates-fixed.json, energy.json, energy.png, bits.json, bits.png, report.json.",
        "",
    ]
    return "\n".join(lines)
