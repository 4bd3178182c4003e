"""Independent bit errors: the binary symmetric channel, and BPSK over AWGN seen through a
hard-decision receiver (a binary symmetric channel whose flip probability follows from
the SNR per bit)."""

from __future__ import annotations

import math

import numpy as np

from sbn.errors import ConfigError
from sbn.wire.channel import Channel, arity, flip_bits, number, probability


class BinarySymmetric(Channel):
    name = "bsc"
    usage = "bsc:P (P: the probability that a bit is flipped, 0..1)"
    measure = "bit error rate"

    def __init__(self, spec: str, p: float) -> None:
        super().__init__(spec)
        self.p = p

    @classmethod
    def from_args(cls, spec: str, args: list[str]) -> BinarySymmetric:
        arity(cls, spec, args, 1, 1)
        return cls(spec, probability(spec, args[0], "the flip probability P"))

    @property
    def error_rate(self) -> float:
        return self.p

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        return flip_bits(data, rng.random(8 * len(data)) < self.p)


class AwgnBpsk(BinarySymmetric):
    name = "awgn"
    usage = "awgn:EBN0_DB (BPSK over AWGN at this Eb/N0 in dB, hard decisions)"

    @classmethod
    def from_args(cls, spec: str, args: list[str]) -> AwgnBpsk:
        arity(cls, spec, args, 1, 1)
        ebn0_db = number(spec, args[0], "Eb/N0 in dB")
        if ebn0_db < -30:
            raise ConfigError(f"channel {spec!r}: Eb/N0 below -30 dB is a coin toss; give more")
        # BPSK with a matched filter: P(bit error) = Q(sqrt(2 Eb/N0)) = erfc(sqrt(Eb/N0)) / 2
        return cls(spec, 0.5 * math.erfc(math.sqrt(10.0 ** (ebn0_db / 10.0))))
