"""``sbn demo``: the whole pipeline on the bundled digits, into one report folder.

    backbone  -> fine-tuned SpikeBottleNet -> NIR export (full/device/edge) -> core map
              -> Lava: device -> packed payload -> edge -> accuracy and agreement
              -> accuracy through bit errors per payload codec (reference executor)
              -> quantisation-aware fine-tune -> its device half in the target's fixed point on
                 Lava's own Conv/LIF processes, against its float run
              -> energy per split point and bits, with plots -> report.json / report.md

Every step (``sbn.demo_steps``) writes its artefact atomically and records a stamp of its
inputs and outputs (``sbn.demo_stamps``); a second run reuses each artefact whose stamp still
matches and redoes only what changed or was damaged (``fresh`` redoes everything).
``sbn.demo_report`` writes report.md.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from sbn import __version__
from sbn.data import class_count, load_dataset
from sbn.demo_report import render_markdown
from sbn.demo_stamps import FILE as STAMPS_FILE
from sbn.demo_stamps import Stamps
from sbn.demo_steps import (
    bits_step,
    channel_step,
    energy_step,
    export_step,
    fixed_step,
    lava_step,
    map_step,
    train_step,
)
from sbn.errors import ConfigError
from sbn.fileio import write_json, write_text
from sbn.models import BottleneckConfig, ModelConfig, parse_split, split_label
from sbn.train import Progress, TrainSettings, finetune_config

SCHEMA = "sbn.demo/1"
#: the quantisation-aware fine-tune before rounding to the target's fixed point (measured on
#: the demo: 2 epochs, 67 s, take the Loihi 2 device from -6.3 to 0.0 points against float
#: on 128 test digits; docs/loihi.md)
QAT_BATCH_SIZE = 64
QAT_LR = 1e-3
DATASET = "digits"


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
        """Whether the fixed-point run gets its own quantisation-aware fine-tune first (every
        target the demo accepts states a fixed-point format: ``check_target``)."""
        return self.qat_epochs > 0

    def steps(self) -> int:
        """How many steps ``run_demo`` reports through ``hooks.step``."""
        return 11 if self.quantisation_aware() else 9

    def check_target(self) -> None:
        """ConfigError, before any work, for a target some step cannot run on: the
        fixed-point run needs the target's fixed-point format, the core map needs both
        halves of this model to fit it (the demo has no --chips to enlarge a board)."""
        from sbn.targets import get_target, known_targets, resolve_target

        target = resolve_target(self.target)
        halves = self._halves()
        problem = _target_problem(target, halves)
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
        return ModelConfig(num_classes=class_count(DATASET), width=self.width, time_steps=self.time_steps)

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
    train_data = load_dataset(DATASET, train=True)
    test_data = load_dataset(DATASET, train=False)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "tool_version": __version__,
        "settings": asdict(settings),
        "dataset": DATASET,
    }

    backbone_path = out / "backbone.safetensors"
    backbone_summary = train_step(
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
    sbn_summary = train_step(
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
    report["export"] = export_step(stamps, hooks, sbn_path, export_dir)
    report["map"] = map_step(stamps, hooks, export_dir, settings.target, out)
    report["lava"] = lava_step(stamps, hooks, sbn_path, export_dir, test_data, settings, out)
    report["channel"] = channel_step(stamps, hooks, export_dir, test_data, settings, out)
    fixed_export = export_dir
    if settings.quantisation_aware():
        qat_path = out / f"spikebottlenet-{settings.target}.safetensors"
        qat_summary = train_step(
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
        export_step(
            stamps,
            hooks,
            qat_path,
            fixed_export,
            name="export-qat",
            label="export the quantisation-aware model to NIR",
        )
    report["fixed_point"] = fixed_step(stamps, hooks, fixed_export, test_data, settings, out)
    report["energy"] = energy_step(stamps, hooks, backbone_path, test_data, settings, out)
    report["bits"] = bits_step(stamps, hooks, sbn_config, out)
    report["seconds"] = time.time() - started
    write_json(out / "report.json", report)
    write_text(out / "report.md", render_markdown(report))
    return report


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
