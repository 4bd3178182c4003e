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
resumes anywhere. The helpers live in ``train_steps`` (which model each step trains),
``train_settings`` (``TrainSettings``, one epoch's figures), ``train_state`` (the
checkpoint's training state: written, read back, checked for --resume), ``train_optim``
(optimiser, schedule, its state), ``train_eval`` (evaluation, precise BN),
``train_channel`` (a noisy channel on the payload), ``train_precision``, ``train_ddp``,
``train_sync_norm`` and ``train_fused_lif``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from sbn import checkpoint as ckpt_io
from sbn.data import ImageDataset, check_fits
from sbn.data.loader import DeviceData
from sbn.errors import CheckpointError
from sbn.models import ModelConfig, build_model
from sbn.models.accounting import payload
from sbn.train_channel import noisy_payload
from sbn.train_ddp import barrier, sum_over_ranks, wrap
from sbn.train_eval import evaluate, recalibrate_norm
from sbn.train_optim import cosine_lr, make_optimizer, restore_optimizer
from sbn.train_precision import precision_for
from sbn.train_runtime import Runtime
from sbn.train_settings import OPTIMIZERS, EpochResult, TrainSettings
from sbn.train_state import SavedState, check_resume, read_training_state, save_checkpoint
from sbn.train_steps import finetune_config

__all__ = [
    "OPTIMIZERS",
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
    for data in (train_data, test_data):
        check_fits(config, data.name, data.image_shape, data.num_classes)
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
            save_checkpoint(
                out,
                config,
                model,
                optimizer,
                scaler,
                settings,
                state.history,
                state.extra,
                time.time() - state.started,
            )
        barrier(ranks)  # no rank runs ahead of the checkpoint it may resume from
        progress.on_epoch_end(result)


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
