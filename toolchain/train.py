"""The method's two training steps, as one resumable loop.

Step 1 trains a backbone (spiking ResNet50, or the real-valued baseline). Step 2 inserts a
bottleneck after RBk and fine-tunes the whole model end to end, starting from the step-1
checkpoint. Both write one checkpoint file (see ``sbn.checkpoint``) after every epoch,
atomically, holding everything a resumed run needs: weights, optimiser state, the epoch
reached, the history and the settings. The data order of epoch ``e`` is drawn from a
generator seeded with ``(seed, e)``, so a resumed run sees exactly the batches the
uninterrupted run would have seen.

Where it runs (device, layout, LIF kernel, data-parallel ranks) is a ``Runtime``
(``sbn.train_runtime``), apart from the settings: a checkpoint holds CPU tensors only and
resumes anywhere. The helpers live in ``train_optim`` (optimiser, schedule, its state),
``train_eval`` (evaluation, precise BN), ``train_channel`` (a noisy channel on the
payload), ``train_precision``, ``train_ddp``, ``train_sync_norm`` and ``train_fused_lif``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from sbn import checkpoint as ckpt_io
from sbn.data import ImageDataset
from sbn.data.loader import DeviceData
from sbn.errors import CheckpointError, ConfigError
from sbn.fileio import MISSING as _MISSING
from sbn.fileio import shown_json as _shown
from sbn.models import BottleneckConfig, ModelConfig, build_model
from sbn.models.accounting import payload
from sbn.train_channel import noisy_payload
from sbn.train_ddp import barrier, sum_over_ranks, wrap
from sbn.train_eval import evaluate, recalibrate_norm
from sbn.train_optim import cosine_lr, is_setting, make_optimizer, optimizer_tensors, restore_optimizer
from sbn.train_precision import PRECISIONS, precision_for
from sbn.train_runtime import Runtime, cpu_state

__all__ = [
    "EpochResult",
    "Progress",
    "Runtime",
    "SavedState",
    "TrainResult",
    "TrainSettings",
    "check_resume",
    "cosine_lr",
    "evaluate",
    "finetune_config",
    "init_from_backbone",
    "make_summary",
    "read_training_state",
    "recalibrate_norm",
    "train",
]

SUMMARY_SCHEMA = "sbn.train/1"
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides the run besides the model config."""

    dataset: str = "digits"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    seed: int = 0
    augment: bool = False
    train_samples: int | None = None  # a prefix of the training set (None: all of it)
    test_samples: int | None = None
    #: quantisation-aware fine-tune for this target's fixed point (``sbn.qat``); None: float
    quantize: str | None = None
    #: arithmetic of the training step (sbn.train_precision); evaluation is always fp32
    precision: str = "fp32"
    #: bit errors on the payload while training (``sbn.train_channel``): bsc:P; None: clean
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight decay must be >= 0, got {self.weight_decay}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.quantize is not None and self.precision != "fp32":
            raise ConfigError(  # the rounding it emulates is exact only in fp32 arithmetic
                f"--quantize emulates the chip's rounding in fp32; drop --precision {self.precision}"
            )
        if self.channel is not None:
            from sbn.train_channel import bit_error_rate

            bit_error_rate(self.channel)  # a bad or unsupported spec: refused here
        for name in ("train_samples", "test_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be >= 1, got {value}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSettings:
        return cls(**d)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float


@dataclass
class Progress:
    """Callbacks for a front end; the library itself prints nothing."""

    on_epoch_start: Callable[[int, int], None] = lambda epoch, batches: None
    on_batch: Callable[[float, float], None] = lambda loss, accuracy: None
    on_epoch_end: Callable[[EpochResult], None] = lambda result: None
    on_eval_start: Callable[[str, int], None] = lambda what, batches: None
    on_eval_batch: Callable[[], None] = lambda: None


@dataclass
class TrainResult:
    summary: dict[str, Any]
    model: torch.nn.Module
    history: list[EpochResult] = field(default_factory=list)


def finetune_config(
    backbone: ModelConfig, bottleneck: BottleneckConfig, time_steps: int | None
) -> ModelConfig:
    """The SpikeBottleNet (or BottleNet++) config that step 2 trains from ``backbone``."""
    if backbone.bottleneck is not None:
        raise ConfigError(
            f"--from must be a backbone checkpoint; this one already has a bottleneck at "
            f"{backbone.bottleneck.split_name}"
        )
    config = backbone.with_bottleneck(bottleneck)
    if time_steps is not None and config.kind == "spiking":
        config = replace(config, time_steps=time_steps)
    return config


def init_from_backbone(model: torch.nn.Module, backbone_state: dict[str, torch.Tensor]) -> None:
    """Copy the step-1 weights into a bottlenecked model; the bottleneck starts fresh."""
    ckpt_io.load_state(model.backbone, backbone_state, "backbone")


def refuse_existing_out(out: Path, resume: bool) -> None:
    """A run never overwrites a checkpoint: an existing ``out`` is continued or refused."""
    if out.exists() and not resume:
        raise CheckpointError(f"{out} exists: pass --resume to continue it, or choose another --out")


def train(
    config: ModelConfig,
    settings: TrainSettings,
    train_data: ImageDataset,
    test_data: ImageDataset,
    out: str | Path,
    *,
    backbone: ckpt_io.Checkpoint | None = None,
    backbone_path: str | Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    runtime: Runtime | None = None,
) -> TrainResult:
    """Train ``config`` and write the checkpoint ``out`` after every epoch.

    ``backbone`` (step 2 only) supplies the starting weights of everything but the
    bottleneck. With ``resume`` an existing ``out`` is continued from its last epoch with
    the same settings; without it an existing ``out`` is an error, so nothing is lost.
    ``runtime`` says where to run (default: this process, on the CPU); the returned model
    is back on the CPU, in the model's own modules.
    """
    out = Path(out)
    progress = progress or Progress()
    runtime = runtime or Runtime()
    precision = precision_for(settings.precision, runtime.device)  # refused before any work
    _check_data(config, train_data, test_data)
    train_data = train_data.subset(settings.train_samples)
    test_data = test_data.subset(settings.test_samples)

    torch.manual_seed(settings.seed)
    model = runtime.prepare(build_model(config))
    optimizer = make_optimizer(model, settings.optimizer, settings.lr, settings.weight_decay)
    state = _RunState(started=time.time())
    refuse_existing_out(out, resume)
    if resume and out.exists():
        _resume(out, config, settings, model, optimizer, state)
    elif backbone is not None:
        state.extra = _start_from(
            backbone, backbone_path, config, settings, model, test_data, progress, runtime
        )

    scaler = precision.grad_scaler(state.scaler)
    with _fixed_point(model, settings), noisy_payload(model, settings.channel):
        _epochs(
            model,
            optimizer,
            scaler,
            precision,
            runtime,
            settings,
            train_data,
            test_data,
            out,
            config,
            state,
            progress,
        )
    summary = make_summary(config, settings, state.history, state.extra, out, time.time() - state.started)
    summary["runtime"] = runtime.describe()
    return TrainResult(summary=summary, model=runtime.release(model).eval(), history=state.history)


@dataclass
class _RunState:
    """What a run carries from epoch to epoch (and a checkpoint from run to run)."""

    started: float
    history: list[EpochResult] = field(default_factory=list)
    start_epoch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    scaler: dict[str, Any] | None = None  # fp16 loss scale


def _resume(
    out: Path,
    config: ModelConfig,
    settings: TrainSettings,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: _RunState,
) -> None:
    saved = ckpt_io.load(out)
    resumed = check_resume(out, config, settings, saved)
    try:
        ckpt_io.load_state(model, saved.model_state, config.arch)
        restore_optimizer(optimizer, saved.optim_state, resumed.optimizer)
    except CheckpointError as exc:
        raise CheckpointError(f"{out}: cannot resume: {exc}") from None
    state.history = resumed.history
    state.start_epoch = resumed.epoch
    state.extra = resumed.reference
    state.scaler = resumed.grad_scaler
    state.started -= resumed.seconds


@dataclass
class SavedState:
    """The training state of a checkpoint (its ``training`` metadata), checked."""

    settings: dict[str, Any]
    epoch: int
    history: list[EpochResult]
    optimizer: dict[str, Any]
    reference: dict[str, Any]
    grad_scaler: dict[str, Any] | None
    seconds: float


def check_resume(
    out: str | Path, config: ModelConfig, settings: TrainSettings, saved: ckpt_io.Checkpoint | None = None
) -> SavedState:
    """The state ``out`` continues from; a CheckpointError naming the file and the field
    unless it is sound and was written by a run of ``config`` with ``settings``. Without
    ``saved`` only the file's metadata is read: a quick check before data is loaded."""
    if saved is None:
        saved = ckpt_io.load(out, tensors=False)
    if saved.config != config:
        raise CheckpointError(
            f"{out}: cannot resume: it was trained with another model config "
            f"({saved.config.arch}); use a new --out or the same options"
        )
    resumed = read_training_state(out, saved.training)
    if resumed.settings != settings.to_dict():
        changed = sorted(k for k in settings.to_dict() if resumed.settings.get(k) != getattr(settings, k))
        raise CheckpointError(f"{out}: cannot resume with other settings (changed: {', '.join(changed)})")
    return resumed


def read_training_state(path: str | Path, training: Any) -> SavedState:
    """``training`` (a checkpoint's metadata of that name, parsed) as a SavedState, or a
    CheckpointError naming ``path``, the field and what it must be."""
    where = f"{path}: metadata training"
    if not isinstance(training, dict):
        raise CheckpointError(f"{where} is {_shown(training)}; it must be a JSON object (the training state)")
    if not {"epoch", "settings", "history"} & set(training):
        raise CheckpointError(
            f"{path}: cannot resume: its metadata holds no training state (no training.epoch, "
            f"settings or history: it was not written by sbn train)"
        )
    settings = _saved_settings(where, training.get("settings", _MISSING))
    epoch = training.get("epoch", _MISSING)
    if not _is_int(epoch) or not 1 <= epoch <= settings["epochs"]:
        raise CheckpointError(
            f"{where}.epoch is {_shown(epoch)}; it must be a whole number from 1 to the run's "
            f"{settings['epochs']} epochs"
        )
    history = _saved_history(where, training.get("history", _MISSING), epoch)
    optimizer = training.get("optimizer", _MISSING)
    _check_optimizer(where, optimizer)
    reference = training.get("reference", {})
    if not isinstance(reference, dict):
        raise CheckpointError(f"{where}.reference is {_shown(reference)}; it must be a JSON object")
    for key in ("backbone_accuracy", "float_accuracy", "quantized_accuracy_before"):
        if reference.get(key) is not None and not _is_finite(reference[key]):
            raise CheckpointError(
                f"{where}.reference.{key} is {_shown(reference[key])}; it must be a finite number or null"
            )
    scaler = training.get("grad_scaler")
    if scaler is not None and not isinstance(scaler, dict):
        raise CheckpointError(f"{where}.grad_scaler is {_shown(scaler)}; it must be a JSON object or null")
    seconds = training.get("seconds", 0.0)
    if not _is_finite(seconds) or seconds < 0:
        raise CheckpointError(f"{where}.seconds is {_shown(seconds)}; it must be a finite number >= 0")
    return SavedState(settings, epoch, history, optimizer, reference, scaler, float(seconds))


def _saved_settings(where: str, value: Any) -> dict[str, Any]:
    """The saved TrainSettings as a dict (missing keys: their defaults, as when saved by an
    older sbn); wrong keys, types or values are refused."""
    if not isinstance(value, dict):
        raise CheckpointError(
            f"{where}.settings is {_shown(value)}; it must be a JSON object of the settings"
        )
    hints = typing.get_type_hints(TrainSettings)
    unknown = sorted(set(value) - set(hints))
    if unknown:
        raise CheckpointError(
            f"{where}.settings has an unknown key {unknown[0]!r}; the keys are {', '.join(hints)}"
        )
    for key, item in value.items():
        accepted = _accepts(hints[key])
        if accepted is not None and not accepted[0](item):
            raise CheckpointError(f"{where}.settings.{key} is {_shown(item)}; it must be {accepted[1]}")
    try:
        return TrainSettings.from_dict(value).to_dict()
    except ConfigError as exc:
        raise CheckpointError(f"{where}.settings: {exc}") from None


def _saved_history(where: str, value: Any, epoch: int) -> list[EpochResult]:
    """One EpochResult per finished epoch, 1..``epoch``."""
    if not isinstance(value, list) or len(value) != epoch:
        raise CheckpointError(
            f"{where}.history is {_shown(value)}; it must be a list of the {epoch} finished epoch(s)"
        )
    names = [f.name for f in dataclasses.fields(EpochResult)]
    history = []
    for i, entry in enumerate(value):
        at = f"{where}.history[{i}]"
        if not isinstance(entry, dict) or set(entry) != set(names):
            raise CheckpointError(
                f"{at} is {_shown(entry)}; it must be a JSON object with {', '.join(names)}"
            )
        if entry["epoch"] != i + 1 or not _is_int(entry["epoch"]):
            raise CheckpointError(f"{at}.epoch is {_shown(entry['epoch'])}; it must be {i + 1}")
        for key in names[1:]:
            ok = _is_number(entry[key]) if key == "train_loss" else _is_finite(entry[key])
            if not ok:
                raise CheckpointError(f"{at}.{key} is {_shown(entry[key])}; it must be a finite number")
        history.append(EpochResult(**entry))
    return history


def _check_optimizer(where: str, value: Any) -> None:
    """The shape ``restore_optimizer`` reads: param_groups (a list of objects with params) and
    scalars (per parameter index, an object)."""
    if not isinstance(value, dict):
        raise CheckpointError(f"{where}.optimizer is {_shown(value)}; it must be a JSON object")
    groups = value.get("param_groups")
    if not isinstance(groups, list) or not all(
        isinstance(g, dict) and isinstance(g.get("params"), list) and all(map(_is_int, g["params"]))
        for g in groups
    ):
        raise CheckpointError(
            f"{where}.optimizer.param_groups is {_shown(groups)}; it must be a list of JSON objects, "
            f"each with params (a list of parameter indices)"
        )
    for index, group in enumerate(groups):
        for key, setting in group.items():
            if key != "params" and not is_setting(setting):
                raise CheckpointError(
                    f"{where}.optimizer.param_groups[{index}].{key} is {_shown(setting)}; an "
                    "optimiser setting is a finite number, true/false, null or a list of numbers"
                )
    scalars = value.get("scalars", {})
    if not isinstance(scalars, dict) or not all(
        k.isdigit() and isinstance(v, dict) for k, v in scalars.items()
    ):
        raise CheckpointError(
            f"{where}.optimizer.scalars is {_shown(scalars)}; it must be a JSON object of objects "
            f"by parameter index"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


_ACCEPTED = {
    int: (_is_int, "a whole number"),
    float: (_is_finite, "a finite number"),
    bool: (lambda v: isinstance(v, bool), "true or false"),
    str: (lambda v: isinstance(v, str), "a string"),
}


def _accepts(hint: Any) -> tuple[Callable[[Any], bool], str] | None:
    """(test, description) of the JSON values a field annotated ``hint`` takes; None: any."""
    args = typing.get_args(hint)
    if not args:
        return _ACCEPTED.get(hint)
    plain = [a for a in args if a is not type(None)]
    if len(plain) != 1 or plain[0] not in _ACCEPTED or len(args) != 2:
        return None
    test, text = _ACCEPTED[plain[0]]
    return (lambda v: v is None or test(v)), f"{text} or null"


def _start_from(
    backbone, backbone_path, config, settings, model, test_data, progress, runtime
) -> dict[str, Any]:
    """Load the starting weights of step 2 or 3; return the reference figures."""
    sha = ckpt_io.file_sha256(backbone_path) if backbone_path else None
    path = str(backbone_path) if backbone_path else None
    if settings.quantize is not None:
        # the quantisation-aware fine-tune starts from the whole trained SpikeBottleNet
        ckpt_io.load_state(model, backbone.model_state, config.arch)
        extra = {
            "float_checkpoint": path,
            "float_sha256": sha,
            "float_accuracy": evaluate(model, test_data, settings.batch_size, progress, "float", runtime),
        }
        with _fixed_point(model, settings):  # where the fine-tune starts
            extra["quantized_accuracy_before"] = evaluate(
                model, test_data, settings.batch_size, progress, settings.quantize, runtime
            )
        return extra
    init_from_backbone(model, backbone.model_state)
    # the backbone's accuracy at this run's T, on this run's test set
    reference = runtime.prepare(
        ckpt_io.Checkpoint(
            replace(backbone.config, time_steps=config.time_steps), backbone.model_state
        ).build()
    )
    return {
        "backbone_checkpoint": path,
        "backbone_sha256": sha,
        "backbone_accuracy": evaluate(
            reference, test_data, settings.batch_size, progress, "backbone", runtime
        ),
    }


def _fixed_point(model: torch.nn.Module, settings: TrainSettings):
    """The quantisation-aware context (``sbn.qat``) when the settings ask for it."""
    if settings.quantize is None:
        return contextlib.nullcontext()
    from sbn.qat import fake_quantized
    from sbn.targets import resolve_target

    return fake_quantized(model, resolve_target(settings.quantize))


def _epochs(
    model,
    optimizer,
    scaler,
    precision,
    runtime,
    settings,
    train_data,
    test_data,
    out,
    config,
    state,
    progress,
) -> None:
    ranks, device = runtime.ranks, runtime.device
    net = wrap(model, ranks, device)
    loader = DeviceData(train_data, device, ranks.shard)
    model.train()
    for epoch in range(state.start_epoch, settings.epochs):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(settings.lr, epoch, settings.epochs)
        generator = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
        t0 = time.time()
        # loss sum, correct, seen, kept on the device: no host sync for the epoch's totals
        totals = torch.zeros(3, dtype=torch.float64, device=device)
        progress.on_epoch_start(epoch, -(-len(train_data) // settings.batch_size))
        for batch in loader.batches(
            settings.batch_size, shuffle=True, augment=settings.augment, generator=generator
        ):
            with precision.autocast():
                logits = net(runtime.inputs(batch.images))
            # this rank's share of the global batch's mean loss; DDP then averages over
            # ranks, so the gradient is the whole batch's whatever the shares' sizes
            loss_sum = F.cross_entropy(logits.float(), batch.labels, reduction="sum")
            loss = loss_sum * (ranks.world_size / batch.total)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            n = len(batch.labels)
            correct = (logits.argmax(1) == batch.labels).sum()
            totals += torch.stack(
                [
                    loss_sum.detach().double(),
                    correct.double(),
                    torch.tensor(float(n), dtype=torch.float64, device=device),
                ]
            )
            progress.on_batch(float(loss_sum.detach()) / max(n, 1), float(correct) / max(n, 1))
        loss_total, correct_total, seen = sum_over_ranks(totals.tolist(), ranks, device)
        recalibrate_norm(model, train_data, settings.batch_size, runtime=runtime)
        accuracy = evaluate(model, test_data, settings.batch_size, progress, "test", runtime)
        result = EpochResult(epoch + 1, loss_total / seen, correct_total / seen, accuracy, time.time() - t0)
        state.history.append(result)
        if ranks.main:
            _save(out, config, model, optimizer, scaler, settings, state, time.time() - state.started)
        barrier(ranks)  # no rank runs ahead of the checkpoint it may resume from
        progress.on_epoch_end(result)


def _check_data(config: ModelConfig, train_data: ImageDataset, test_data: ImageDataset) -> None:
    expected = (config.in_channels, config.image_size, config.image_size)
    for data in (train_data, test_data):
        if data.image_shape != expected:
            raise ConfigError(
                f"{data.name} images are {'x'.join(map(str, data.image_shape))} but the model "
                f"expects {'x'.join(map(str, expected))}"
            )
        if data.num_classes != config.num_classes:
            raise ConfigError(
                f"{data.name} has {data.num_classes} classes but the model has {config.num_classes}"
            )


def _save(
    out: Path,
    config: ModelConfig,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    settings: TrainSettings,
    state: _RunState,
    seconds: float,
) -> None:
    optim_tensors, optim_meta = optimizer_tensors(optimizer)
    history = state.history
    training = {
        "epoch": history[-1].epoch,
        "settings": settings.to_dict(),
        "history": [asdict(h) for h in history],
        "optimizer": optim_meta,
        "reference": state.extra,
        "test_accuracy": history[-1].test_accuracy,
        "seconds": seconds,
    }
    if scaler.is_enabled():
        training["grad_scaler"] = scaler.state_dict()
    # json round trip: what is saved must be what load() gives back
    training = json.loads(json.dumps(training))
    ckpt_io.save(
        out,
        ckpt_io.Checkpoint(
            config=config,
            model_state=cpu_state(model),
            training=training,
            optim_state=optim_tensors,
            rng_state=torch.get_rng_state(),
        ),
    )


def make_summary(
    config: ModelConfig,
    settings: TrainSettings,
    history: list[EpochResult],
    extra: dict[str, Any],
    out: Path,
    seconds: float,
) -> dict[str, Any]:
    """The run's JSON summary (schema ``sbn.train/1``)."""
    accuracy = history[-1].test_accuracy
    summary: dict[str, Any] = {
        "schema": SUMMARY_SCHEMA,
        "checkpoint": str(out),
        "checkpoint_sha256": ckpt_io.file_sha256(out),
        "arch": config.arch,
        "config": config.to_dict(),
        "settings": settings.to_dict(),
        "epochs": len(history),
        "accuracy": accuracy,
        "best_accuracy": max(h.test_accuracy for h in history),
        "history": [asdict(h) for h in history],
        "seconds": seconds,
    }
    if settings.quantize is not None:
        summary.update(
            quantized_for=settings.quantize,
            float_checkpoint=extra.get("float_checkpoint"),
            float_sha256=extra.get("float_sha256"),
            float_accuracy=extra.get("float_accuracy"),
            quantized_accuracy_before=extra.get("quantized_accuracy_before"),
        )
    if config.bottleneck is not None:
        p = payload(config, config.bottleneck)
        backbone_accuracy = extra.get("backbone_accuracy")
        summary.update(
            split=config.bottleneck.split_name,
            backbone_checkpoint=extra.get("backbone_checkpoint"),
            backbone_sha256=extra.get("backbone_sha256"),
            backbone_accuracy=backbone_accuracy,
            accuracy_drop=None if backbone_accuracy is None else backbone_accuracy - accuracy,
            payload_shape=[config.time_steps, *p.payload_shape]
            if config.kind == "spiking"
            else list(p.payload_shape),
            transmitted_bits=p.spiking_bits if config.kind == "spiking" else p.baseline_bits,
            raw_bits=p.raw_bits,
            compression_ratio=(
                p.compression_ratio if config.kind == "spiking" else p.raw_bits / p.baseline_bits
            ),
        )
    return summary
