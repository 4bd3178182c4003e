"""What every channel model is, and how a SPEC string names one.

A channel acts on one frame's coded bytes (``corrupt(data, rng) -> bytes`` of the same
length) with a numpy Generator that the link seeds per frame, so a run is reproducible and
the same sample meets the same noise whichever codec carries it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from sbn.errors import ConfigError


class Channel(ABC):
    #: the SPEC prefix, e.g. "bsc"
    name: str
    #: the SPEC grammar, for error messages and --help
    usage: str
    #: what ``error_rate`` measures: "bit error rate" or "packet loss rate"
    measure: str

    def __init__(self, spec: str) -> None:
        self.spec = spec

    @classmethod
    @abstractmethod
    def from_args(cls, spec: str, args: list[str]) -> Channel:
        """Build from the SPEC's fields after the name (ConfigError naming the spec)."""

    @property
    @abstractmethod
    def error_rate(self) -> float:
        """The long-run rate this channel damages the stream at (the sweep's x axis)."""

    @abstractmethod
    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes: ...

    @property
    def perfect(self) -> bool:
        return self.error_rate == 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


def number(spec: str, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"channel {spec!r}: {what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"channel {spec!r}: {what} must be finite, got {text!r}")
    return value


def probability(spec: str, text: str, what: str) -> float:
    value = number(spec, text, what)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"channel {spec!r}: {what} must be in [0, 1], got {text}")
    return value


def arity(cls: type[Channel], spec: str, args: list[str], least: int, most: int) -> None:
    if not least <= len(args) <= most:
        raise ConfigError(f"channel {spec!r}: expected {cls.usage}")


def flip_bits(data: bytes, flips: np.ndarray) -> bytes:
    """XOR a 0/1 mask of len(data) * 8 bits (MSB first) into ``data``."""
    if not flips.any():
        return data
    mask = np.packbits(flips.astype(np.uint8), bitorder="big")
    return (np.frombuffer(data, dtype=np.uint8) ^ mask).tobytes()
