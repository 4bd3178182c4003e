"""What every payload codec is: one sample's spikes [T, C', H', W'] <-> bytes, lossless."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Codec(ABC):
    """``encode(spikes) -> bytes`` and ``decode(bytes, shape) -> spikes`` (float64 0/1).

    ``encode`` refuses a payload that is not binary (WireError); ``decode`` raises FrameLost
    when a received frame cannot be read (the link counts it as lost). Every length a
    decoder reads from the stream is checked against the frame's size before anything is
    allocated, so a corrupted frame costs no more than a clean one.
    """

    #: the registry's key and the CLI's choice
    name: str
    #: one line for --help and the docs
    summary: str

    @abstractmethod
    def encode(self, spikes: np.ndarray) -> bytes: ...

    @abstractmethod
    def decode(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray: ...
