"""A checkpoint's training state (its ``training`` metadata): written after every epoch,
read back and checked before a run resumes from it.

``save_checkpoint`` is the one writer; ``read_training_state`` the one reader, which refuses
anything the writer would not have written with a CheckpointError naming the file and the
field; ``check_resume`` adds that the state belongs to this run's config and settings.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from sbn import checkpoint as ckpt_io
from sbn.errors import CheckpointError, ConfigError
from sbn.fileio import MISSING as _MISSING
from sbn.fileio import is_finite_number, is_int_or_float, is_whole_number
from sbn.fileio import shown_json as _shown
from sbn.models import ModelConfig
from sbn.train_optim import is_setting, optimizer_tensors
from sbn.train_runtime import cpu_state
from sbn.train_settings import EpochResult, TrainSettings


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
    if not is_whole_number(epoch) or not 1 <= epoch <= settings["epochs"]:
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
        if reference.get(key) is not None and not is_finite_number(reference[key]):
            raise CheckpointError(
                f"{where}.reference.{key} is {_shown(reference[key])}; it must be a finite number or null"
            )
    scaler = training.get("grad_scaler")
    if scaler is not None and not isinstance(scaler, dict):
        raise CheckpointError(f"{where}.grad_scaler is {_shown(scaler)}; it must be a JSON object or null")
    seconds = training.get("seconds", 0.0)
    if not is_finite_number(seconds) or seconds < 0:
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
        if entry["epoch"] != i + 1 or not is_whole_number(entry["epoch"]):
            raise CheckpointError(f"{at}.epoch is {_shown(entry['epoch'])}; it must be {i + 1}")
        for key in names[1:]:
            # a diverged epoch's loss is NaN or inf: saved as such, and resumed from
            ok = is_int_or_float(entry[key]) if key == "train_loss" else is_finite_number(entry[key])
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
        isinstance(g, dict) and isinstance(g.get("params"), list) and all(map(is_whole_number, g["params"]))
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


_ACCEPTED = {
    int: (is_whole_number, "a whole number"),
    float: (is_finite_number, "a finite number"),
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


def save_checkpoint(
    out: Path,
    config: ModelConfig,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    settings: TrainSettings,
    history: list[EpochResult],
    reference: dict[str, Any],
    seconds: float,
) -> None:
    """Write ``out`` (atomically): the weights and the training state after ``history[-1]``,
    which ``read_training_state`` reads back."""
    optim_tensors, optim_meta = optimizer_tensors(optimizer)
    training = {
        "epoch": history[-1].epoch,
        "settings": settings.to_dict(),
        "history": [asdict(h) for h in history],
        "optimizer": optim_meta,
        "reference": reference,
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
