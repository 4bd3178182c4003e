"""The method's two training steps, as one resumable loop.

Step 1 trains a backbone (spiking ResNet50, or the real-valued baseline). Step 2 inserts a
bottleneck after RBk and fine-tunes the whole model end to end, starting from the step-1
checkpoint. Both write one checkpoint file (see ``sbn.checkpoint``) after every epoch,
atomically, holding everything a resumed run needs: weights, optimiser state, the epoch
reached, the history and the settings. The data order of epoch ``e`` is drawn from a
generator seeded with ``(seed, e)``, so a resumed run sees exactly the batches the
uninterrupted run would have seen.
"""

from __future__ import annotations

import contextlib

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from sbn import checkpoint as ckpt_io
from sbn.data import ImageDataset
from sbn.errors import CheckpointError, ConfigError
from sbn.models import BottleneckConfig, ModelConfig, build_model
from sbn.models.accounting import payload

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
            raise ConfigError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        for name in ("train_samples", "test_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be >= 1, got {value}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainSettings":
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


def finetune_config(backbone: ModelConfig, bottleneck: BottleneckConfig, time_steps: int | None) -> ModelConfig:
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


def make_optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=settings.lr, momentum=0.9, weight_decay=settings.weight_decay
        )
    return torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)


def cosine_lr(base: float, epoch: int, epochs: int) -> float:
    """Learning rate for 0-based ``epoch``: cosine from ``base`` down to 1 % of it."""
    floor = 0.01 * base
    return floor + (base - floor) * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def augment_batch(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """CIFAR's standard augmentation: random 4-pixel-padded crop and horizontal flip."""
    n, _, h, w = images.shape
    padded = F.pad(images, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(images)
    for i in range(n):  # per-image offsets; n is a batch, not a neuron count
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


@torch.no_grad()
def recalibrate_norm(model: torch.nn.Module, data: ImageDataset, batch_size: int,
                     samples: int = 512) -> None:
    """Re-estimate every norm layer's running statistics for the current weights.

    The running averages collected during an epoch mix statistics of weights that have
    since moved; a deep spiking net is sensitive to that (each threshold sits on a
    normalised value). One pass over ``samples`` training images in train mode with a
    cumulative average ("precise BN", Wu & Johnson 2021) fixes it; weights are untouched.
    """
    # a norm whose forward is replaced on the instance is folded into its convolution by the
    # quantisation-aware context (sbn.qat): it passes its input through, its statistics frozen
    norms = [m for m in model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and "forward" not in m.__dict__]
    if not norms:
        return
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the recalibration batches
    model.train()
    for images, _ in data.subset(samples).batches(batch_size):
        model(images)
    for m, (momentum, tracked) in zip(norms, saved):
        m.momentum = momentum
        m.num_batches_tracked.copy_(tracked)
    model.train(was_training)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, data: ImageDataset, batch_size: int, progress: Progress | None = None,
    what: str = "eval",
) -> float:
    """Top-1 accuracy of ``model`` on ``data``, in [0, 1]."""
    was_training = model.training
    model.eval()
    correct = 0
    batches = math.ceil(len(data) / batch_size)
    if progress:
        progress.on_eval_start(what, batches)
    for images, labels in data.batches(batch_size):
        correct += int((model(images).argmax(1) == labels).sum())
        if progress:
            progress.on_eval_batch()
    model.train(was_training)
    return correct / max(len(data), 1)


def _optim_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser state into safetensors-storable tensors and JSON."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().clone().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"optimiser state does not fit this model ({exc})") from None


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
) -> TrainResult:
    """Train ``config`` and write the checkpoint ``out`` after every epoch.

    ``backbone`` (step 2 only) supplies the starting weights of everything but the
    bottleneck. With ``resume`` an existing ``out`` is continued from its last epoch with
    the same settings; without it an existing ``out`` is an error, so nothing is lost.
    """
    out = Path(out)
    progress = progress or Progress()
    _check_data(config, train_data, test_data)
    train_data = train_data.subset(settings.train_samples)
    test_data = test_data.subset(settings.test_samples)

    torch.manual_seed(settings.seed)
    model = build_model(config)
    optimizer = make_optimizer(model, settings)
    history: list[EpochResult] = []
    start_epoch = 0
    started = time.time()
    extra: dict[str, Any] = {}

    if resume and out.exists():
        saved = ckpt_io.load(out)
        if saved.config != config:
            raise CheckpointError(
                f"{out}: cannot resume: it was trained with another model config "
                f"({saved.config.arch}); use a new --out or the same options"
            )
        saved_settings = TrainSettings.from_dict(saved.training.get("settings", {})).to_dict()
        if saved_settings != settings.to_dict():
            changed = sorted(k for k in settings.to_dict() if saved_settings.get(k) != getattr(settings, k))
            raise CheckpointError(
                f"{out}: cannot resume with other settings (changed: {', '.join(changed)})"
            )
        ckpt_io.load_state(model, saved.model_state, config.arch)
        _restore_optimizer(optimizer, saved.optim_state, saved.training.get("optimizer", {}))
        history = [EpochResult(**h) for h in saved.training.get("history", [])]
        start_epoch = int(saved.training.get("epoch", 0))
        extra = saved.training.get("reference", {})
        started -= float(saved.training.get("seconds", 0.0))
    elif out.exists():
        raise CheckpointError(f"{out} exists: pass --resume to continue it, or choose another --out")
    else:
        if backbone is not None and settings.quantize is not None:
            # the quantisation-aware fine-tune starts from the whole trained SpikeBottleNet
            ckpt_io.load_state(model, backbone.model_state, config.arch)
            extra = {"float_checkpoint": str(backbone_path) if backbone_path else None,
                     "float_sha256": ckpt_io.file_sha256(backbone_path) if backbone_path else None,
                     "float_accuracy": evaluate(model, test_data, settings.batch_size, progress, "float")}
            with _fixed_point(model, settings):  # where the fine-tune starts
                extra["quantized_accuracy_before"] = evaluate(
                    model, test_data, settings.batch_size, progress, settings.quantize)
        elif backbone is not None:
            init_from_backbone(model, backbone.model_state)
            # the backbone's accuracy at this run's T, on this run's test set
            reference = ckpt_io.Checkpoint(
                replace(backbone.config, time_steps=config.time_steps), backbone.model_state
            ).build()
            extra = {
                "backbone_checkpoint": str(backbone_path) if backbone_path else None,
                "backbone_sha256": ckpt_io.file_sha256(backbone_path) if backbone_path else None,
                "backbone_accuracy": evaluate(
                    reference, test_data, settings.batch_size, progress, "backbone"
                ),
            }

    with _fixed_point(model, settings):
        _epochs(model, optimizer, settings, train_data, test_data, out, config, history, extra,
                start_epoch, started, progress)
    summary = make_summary(config, settings, history, extra, out, time.time() - started)
    return TrainResult(summary=summary, model=model.eval(), history=history)


def _fixed_point(model: torch.nn.Module, settings: TrainSettings):
    """The quantisation-aware context (``sbn.qat``) when the settings ask for it."""
    if settings.quantize is None:
        return contextlib.nullcontext()
    from sbn.qat import fake_quantized
    from sbn.targets import resolve_target

    return fake_quantized(model, resolve_target(settings.quantize))


def _epochs(model, optimizer, settings, train_data, test_data, out, config, history, extra,
            start_epoch, started, progress) -> None:
    model.train()
    for epoch in range(start_epoch, settings.epochs):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(settings.lr, epoch, settings.epochs)
        generator = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
        t0 = time.time()
        loss_sum, correct, seen = 0.0, 0, 0
        progress.on_epoch_start(epoch, math.ceil(len(train_data) / settings.batch_size))
        for images, labels in train_data.batches(settings.batch_size, shuffle=True, generator=generator):
            if settings.augment:
                images = augment_batch(images, generator)
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            n = len(labels)
            loss_sum += float(loss.detach()) * n
            batch_correct = int((logits.argmax(1) == labels).sum())
            correct += batch_correct
            seen += n
            progress.on_batch(float(loss.detach()), batch_correct / n)
        recalibrate_norm(model, train_data, settings.batch_size)
        accuracy = evaluate(model, test_data, settings.batch_size, progress, "test")
        result = EpochResult(epoch + 1, loss_sum / seen, correct / seen, accuracy, time.time() - t0)
        history.append(result)
        _save(out, config, model, optimizer, settings, history, extra, time.time() - started)
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
    out: Path, config: ModelConfig, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
    settings: TrainSettings, history: list[EpochResult], extra: dict[str, Any], seconds: float,
) -> None:
    optim_tensors, optim_meta = _optim_tensors(optimizer)
    training = {
        "epoch": history[-1].epoch,
        "settings": settings.to_dict(),
        "history": [asdict(h) for h in history],
        "optimizer": optim_meta,
        "reference": extra,
        "test_accuracy": history[-1].test_accuracy,
        "seconds": seconds,
    }
    # json round trip: what is saved must be what load() gives back
    training = json.loads(json.dumps(training))
    ckpt_io.save(
        out,
        ckpt_io.Checkpoint(
            config=config,
            model_state={k: v.detach().clone() for k, v in model.state_dict().items()},
            training=training,
            optim_state=optim_tensors,
            rng_state=torch.get_rng_state(),
        ),
    )


def make_summary(
    config: ModelConfig, settings: TrainSettings, history: list[EpochResult],
    extra: dict[str, Any], out: Path, seconds: float,
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
        summary.update(quantized_for=settings.quantize,
                       float_checkpoint=extra.get("float_checkpoint"),
                       float_sha256=extra.get("float_sha256"),
                       float_accuracy=extra.get("float_accuracy"),
                       quantized_accuracy_before=extra.get("quantized_accuracy_before"))
    if config.bottleneck is not None:
        p = payload(config, config.bottleneck)
        backbone_accuracy = extra.get("backbone_accuracy")
        summary.update(
            split=config.bottleneck.split_name,
            backbone_checkpoint=extra.get("backbone_checkpoint"),
            backbone_sha256=extra.get("backbone_sha256"),
            backbone_accuracy=backbone_accuracy,
            accuracy_drop=None if backbone_accuracy is None else backbone_accuracy - accuracy,
            payload_shape=[config.time_steps, *p.payload_shape] if config.kind == "spiking" else list(p.payload_shape),
            transmitted_bits=p.spiking_bits if config.kind == "spiking" else p.baseline_bits,
            raw_bits=p.raw_bits,
            compression_ratio=(
                p.compression_ratio if config.kind == "spiking" else p.raw_bits / p.baseline_bits
            ),
        )
    return summary
