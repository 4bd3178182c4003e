"""Checkpoints: one safetensors file, tensors plus JSON metadata; loading runs no code.

Layout of the file:
    tensors   "model.<state_dict key>"        the weights and buffers
              "optim.<param index>.<key>"    optimiser state tensors (resumable runs only)
              "rng.torch"                    the CPU generator state (resumable runs only)
    metadata  format, format_version, producer, config (ModelConfig JSON),
              training (JSON: epoch, history, optimiser hyper-parameters, ...)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from sbn import __version__
from sbn.errors import CheckpointError, OutputError
from sbn.fileio import VERSION_KEY, atomic_path
from sbn.models import ModelConfig, build_model

SCHEMA = "sbn.checkpoint/1"
#: what files written before the toolchain had one version key said for the same version
_LEGACY = {("sbn-checkpoint", "1"): SCHEMA}


@dataclass
class Checkpoint:
    config: ModelConfig
    model_state: dict[str, torch.Tensor]
    training: dict[str, Any] = field(default_factory=dict)
    optim_state: dict[str, torch.Tensor] = field(default_factory=dict)
    rng_state: torch.Tensor | None = None
    producer: str = f"sbn {__version__}"

    def require_finite(self, where: str) -> None:
        """CheckpointError naming the first weight or buffer holding NaN or infinity: such
        a model exports and measures without complaint and every number from it is wrong."""
        for name, tensor in self.model_state.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise CheckpointError(
                    f"{where}: {name} holds {bad} NaN or infinite value(s) "
                    f"of {tensor.numel()}; the model cannot be used"
                )

    def build(self) -> torch.nn.Module:
        """The model with these weights, in eval mode."""
        model = build_model(self.config)
        load_state(model, self.model_state, self.config.arch)
        return model.eval()


def save(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in ckpt.model_state.items()}
    tensors.update({f"optim.{k}": v.contiguous() for k, v in ckpt.optim_state.items()})
    if ckpt.rng_state is not None:
        tensors["rng.torch"] = ckpt.rng_state
    metadata = {
        VERSION_KEY: SCHEMA,
        "producer": ckpt.producer,
        "config": json.dumps(ckpt.config.to_dict()),
        "training": json.dumps(ckpt.training),
    }
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as exc:  # its I/O errors (a full disk) are not OSErrors
            raise OutputError(f"{path}: not written ({exc})") from None


def load(path: str | os.PathLike, *, tensors: bool = True) -> Checkpoint:
    """The checkpoint at ``path``; ``tensors=False`` reads its metadata only (config,
    training, producer; no weights): a quick look at a large file."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise CheckpointError(
            f"{path}: not a checkpoint file (a folder or a device); give a .safetensors file"
        )
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        stored = load_file(str(path)) if tensors else {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors checkpoint ({exc})") from None
    version = meta.get(VERSION_KEY) or _LEGACY.get((meta.get("format"), meta.get("format_version")))
    if version != SCHEMA:
        raise CheckpointError(_other_schema(path, meta))
    try:
        config = ModelConfig.from_dict(json.loads(meta["config"]))
        training = json.loads(meta.get("training", "{}"))
    except (KeyError, json.JSONDecodeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata ({exc})") from None
    if not isinstance(training, dict):
        raise CheckpointError(
            f"{path}: metadata key 'training' is {json.dumps(training)[:60]}; it must be a JSON "
            f"object (the training state)"
        )
    return Checkpoint(
        config=config,
        model_state=_strip(stored, "model."),
        training=training,
        optim_state=_strip(stored, "optim."),
        rng_state=stored.get("rng.torch"),
        producer=meta.get("producer", "unknown"),
    )


def _other_schema(path: Path, meta: dict[str, str]) -> str:
    """What the file is instead of a checkpoint this sbn reads."""
    found = meta.get(VERSION_KEY) or (meta.get("format"), meta.get("format_version"))
    if found == (None, None):  # not a training checkpoint of any sbn version
        # the other .safetensors an export folder holds (sbn.targets.quantize.SCHEMA: a
        # family name, since that module sits above this one)
        what = (
            "a quantisation file written by `sbn quantize`"
            if _sbn_schema(meta).startswith("sbn.quantized/")
            else "safetensors without sbn's metadata"
        )
        return f"{path}: {what}, not a training checkpoint; give a .safetensors file `sbn train` wrote"
    return (
        f"{path}: metadata key {VERSION_KEY!r} is {found!r}; this is sbn {__version__}, which "
        f"reads checkpoints with {VERSION_KEY} {SCHEMA!r}"
    )


def _sbn_schema(meta: dict[str, str]) -> str:
    """The ``schema`` of the JSON object under metadata key ``sbn`` (where `sbn quantize`
    states its own), or ''."""
    try:
        stated = json.loads(meta.get("sbn", "null"))
    except ValueError:
        return ""
    schema = stated.get("schema") if isinstance(stated, dict) else None
    return schema if isinstance(schema, str) else ""


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Load ``state`` into ``model`` strictly, as a CheckpointError on any mismatch."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(
                f"{len(wrong)} of another shape (e.g. {k}: {tuple(state[k].shape)} vs "
                f"{tuple(expected[k].shape)})"
            )
        raise CheckpointError(f"weights do not fit a {what} model: " + "; ".join(parts))
    model.load_state_dict(state)


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
