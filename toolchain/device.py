"""Which torch device a command runs on: ``--device auto|cpu|cuda|cuda:N``.

``auto`` is the first GPU where torch sees one and the CPU otherwise. Asking for a GPU that
is not there is the user's error (a ``ConfigError``, one line on the CLI), never a silent
fall-back to the CPU: a run meant for a GPU that quietly takes a week on the CPU is worse
than one that refuses at once.
"""

from __future__ import annotations

import re

import torch

from sbn.errors import ConfigError

DEVICE_HELP = "auto (a GPU where there is one), cpu, cuda or cuda:N."
_CUDA = re.compile(r"cuda(?::(\d+))?")


def parse_device(spec: str | None = "auto") -> tuple[str, int | None]:
    """``("auto"|"cpu"|"cuda", index or None)`` without asking torch what is there: for a
    spec that another machine (a Ray worker) resolves."""
    text = (spec or "auto").strip().lower()
    if text in ("auto", "cpu"):
        return text, None
    match = _CUDA.fullmatch(text)
    if match is None:
        raise ConfigError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N")
    return "cuda", None if match.group(1) is None else int(match.group(1))


def resolve_device(spec: str | None = "auto") -> torch.device:
    """The ``torch.device`` for ``spec`` on this machine; a ConfigError naming the choices
    otherwise."""
    kind, index = parse_device(spec)
    if kind == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    text = "cuda" if index is None else f"cuda:{index}"
    if not torch.cuda.is_available():
        raise ConfigError(
            f"--device {text}: torch sees no CUDA GPU on this machine; use --device cpu (or auto)"
        )
    count = torch.cuda.device_count()
    if (index or 0) >= count:
        raise ConfigError(f"--device {text}: this machine has {count} GPU(s), cuda:0..cuda:{count - 1}")
    return torch.device("cuda", index or 0)


def device_name(device: torch.device) -> str:
    """A short description for summaries: ``cpu`` or ``cuda:0 (NVIDIA H100 ...)``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
