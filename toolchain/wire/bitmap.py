"""Dense bitmap: 1 bit per spike slot, the method's C' x H' x W' x T bits.

One sample's payload [T, C', H', W'] is packed with ``numpy.packbits`` in C order (T
slowest, then C', H', W'; the first slot in the most significant bit of byte 0) and
zero-padded to whole bytes: ``ceil(T * C' * H' * W' / 8)`` bytes per sample, the
manifest's ``bits_per_sample / 8`` rounded up. Its size never depends on the spikes, so a
corrupted frame always decodes: a flipped bit is a flipped spike.
"""

from __future__ import annotations

import numpy as np

from sbn.errors import FrameLost
from sbn.wire.base import Codec
from sbn.wire.bitfields import check_binary, slots_of, to_bits


def packed_bytes(shape: tuple[int, ...]) -> int:
    return (slots_of(shape) + 7) // 8


class Bitmap(Codec):
    name = "bitmap"
    summary = "1 bit per spike slot (the method's C'H'W'T bits), fixed size"

    def encode(self, spikes: np.ndarray) -> bytes:
        return np.packbits(check_binary(spikes), bitorder="big").tobytes()

    def decode(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        if len(data) != packed_bytes(shape):
            raise FrameLost(
                f"payload of {len(data)} bytes does not hold shape {list(shape)} "
                f"({packed_bytes(shape)} bytes)"
            )
        bits = to_bits(data)[: slots_of(shape)]
        return bits.reshape(shape).astype(np.float64)
