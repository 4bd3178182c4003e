"""Mixed precision for the training step: ``--precision fp32|bf16|fp16``.

The forward and the loss run under ``torch.autocast`` (convolutions and the FC in the low
precision, reductions kept in fp32 by autocast's own op lists); the weights, the optimiser
state and the checkpoint stay fp32. fp16's narrow exponent needs loss scaling
(``torch.amp.GradScaler``); bf16 has fp32's exponent and needs none.

What each device can run is data, not an ``if`` chain in the trainer: fp16 is refused on
the CPU (PyTorch's CPU kernels for half are slow or missing; bf16 is the CPU's low
precision), bf16 on a GPU without bf16 arithmetic (before Ampere).

fp32 means IEEE fp32: PyTorch lets cuDNN run fp32 convolutions in TF32 (10-bit mantissa)
on Ampere and later unless told otherwise, which would make an "fp32" run a third
precision and move the spikes of thresholds the evaluation reports on. bf16 is the fast
mode; fp32 is the reference.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

from sbn.errors import ConfigError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
PRECISIONS = tuple(DTYPES)


@dataclass(frozen=True)
class Precision:
    """A checked (precision, device) pair: build it with ``precision_for``."""

    name: str
    device_type: str

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.name]

    def autocast(self):
        """The context the forward and the loss run in."""
        if self.name == "fp32":
            return ieee_fp32()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self, state: dict[str, Any] | None = None) -> torch.amp.GradScaler:
        """Loss scaling for fp16; a pass-through scaler otherwise. ``state`` restores a
        resumed run's scale."""
        scaler = torch.amp.GradScaler(self.device_type, enabled=self.name == "fp16")
        if state and scaler.is_enabled():
            scaler.load_state_dict(state)
        return scaler


@contextlib.contextmanager
def ieee_fp32():
    """cuDNN's fp32 convolutions in IEEE fp32, not TF32, inside the context (a no-op for
    the CPU's kernels)."""
    conv = torch.backends.cudnn.conv
    saved = conv.fp32_precision
    conv.fp32_precision = "ieee"
    try:
        yield
    finally:
        conv.fp32_precision = saved


def supported(device: torch.device) -> tuple[str, ...]:
    """The precisions ``device`` can train in."""
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        return ("fp32", "bf16", "fp16") if bf16 else ("fp32", "fp16")
    return ("fp32", "bf16")


def precision_for(name: str, device: torch.device) -> Precision:
    """``name`` on ``device``, or a one-line ConfigError saying what the device runs."""
    if name not in DTYPES:
        raise ConfigError(f"unknown precision {name!r}: use one of {', '.join(PRECISIONS)}")
    can = supported(device)
    if name not in can:
        why = {"cpu": "fp16 needs a CUDA GPU"}.get(device.type, f"{device} has no {name} arithmetic")
        raise ConfigError(f"--precision {name} cannot run on {device} ({why}); use {' or '.join(can)}")
    return Precision(name, device.type)
