"""Fixed-width unsigned integers packed most significant bit first, and the widths a
payload's shape implies: the shared arithmetic of the variable-length codecs."""

from __future__ import annotations

import math

import numpy as np

from sbn.errors import FrameLost, WireError


def check_binary(spikes: np.ndarray) -> np.ndarray:
    """One sample's spikes (values 0/1, any shape) -> a flat bool array in C order."""
    values = np.asarray(spikes)
    binary = np.isin(values, (0, 1))
    if not binary.all():
        bad = values[~binary].ravel()[:3].tolist()
        raise WireError(f"the payload is not binary spikes (values {bad}); only spikes can cross the wire")
    return values.astype(bool).ravel()


def slots_of(shape: tuple[int, ...]) -> int:
    return math.prod(int(d) for d in shape)


def address_width(slots: int) -> int:
    """Bits that name one of ``slots`` spike slots (at least 1)."""
    return max(1, (slots - 1).bit_length())


def count_width(slots: int) -> int:
    """Bits that hold a spike count 0..slots."""
    return max(1, slots.bit_length())


def uint_bits(values: np.ndarray, width: int) -> np.ndarray:
    """Unsigned integers -> their ``width``-bit codes, MSB first, as one flat 0/1 array."""
    values = np.asarray(values, dtype=np.int64).ravel()
    shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] >> shifts) & 1).astype(np.uint8).ravel()


def to_bytes(bits: np.ndarray) -> bytes:
    """0/1 array -> bytes, MSB first, zero-padded to a whole byte."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="big").tobytes()


def to_bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="big")


def read_uints(bits: np.ndarray, start: int, count: int, width: int) -> np.ndarray:
    """``count`` integers of ``width`` bits from ``bits[start:]``; FrameLost past the end."""
    end = start + count * width
    if end > bits.size:
        raise FrameLost(f"the frame ends at bit {bits.size}, the codes need {end}")
    return read_at(bits, start + width * np.arange(count, dtype=np.int64), width)


def read_at(bits: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The ``width``-bit integer at each of ``starts`` (all inside ``bits``)."""
    if width == 0 or starts.size == 0:
        return np.zeros(starts.size, dtype=np.int64)
    weights = np.int64(1) << np.arange(width - 1, -1, -1, dtype=np.int64)
    return bits[starts[:, None] + np.arange(width)].astype(np.int64) @ weights


def check_frame_length(data: bytes, used_bits: int) -> None:
    """A frame holds exactly the codes read, padded to a whole byte; anything else is a
    frame that a flipped header bit has made unreadable."""
    if len(data) != (used_bits + 7) // 8:
        raise FrameLost(f"the frame holds {len(data)} bytes, its header describes {(used_bits + 7) // 8}")
