"""Run-length code: the run of empty slots before each spike, Golomb-Rice coded.

Frame: the spike count in ``count_width`` bits, the Rice parameter k in
``bit_length(address_width)`` bits, then per spike the gap g (empty slots since the
previous spike, or since the start) as ``g >> k`` in unary (that many 1s, then a 0) and
``g mod 2^k`` in k bits; MSB first, zero-padded to a whole byte. The encoder picks the k
(0..address_width) that gives the shortest frame. For independent spikes at rate p the gaps
are geometric, for which Rice codes are the optimal prefix codes: near the entropy
H(p) bits per slot where a bitmap spends 1 (about 0.7 bits per slot at p = 0.15).

Under noise a flipped bit shifts every later spike of the frame; a frame whose codes do
not end where its header says (or that runs past the last slot) is lost.
"""

from __future__ import annotations

import numpy as np

from sbn.errors import FrameLost
from sbn.wire.base import Codec
from sbn.wire.bitfields import (
    address_width,
    check_binary,
    check_frame_length,
    count_width,
    read_at,
    read_uints,
    slots_of,
    to_bits,
    to_bytes,
    uint_bits,
)


def _best_k(gaps: np.ndarray, largest: int) -> int:
    sizes = [int((gaps >> k).sum()) + gaps.size * (1 + k) for k in range(largest + 1)]
    return int(np.argmin(sizes))  # the smallest k among equals


def _rice_bits(gaps: np.ndarray, k: int) -> np.ndarray:
    quotients = gaps >> k
    lengths = quotients + 1 + k
    starts = np.cumsum(lengths) - lengths
    bits = np.zeros(int(lengths.sum()), dtype=np.uint8)
    ones = int(quotients.sum())  # the unary parts: quotients[i] ones from starts[i]
    bits[
        np.repeat(starts, quotients)
        + np.arange(ones)
        - np.repeat(np.cumsum(quotients) - quotients, quotients)
    ] = 1
    if k:
        where = (starts + quotients + 1)[:, None] + np.arange(k)
        bits[where.ravel()] = uint_bits(gaps & ((1 << k) - 1), k)
    return bits


class RunLength(Codec):
    name = "rle"
    summary = "Golomb-Rice coded runs of empty slots before each spike (k chosen per frame)"

    def encode(self, spikes: np.ndarray) -> bytes:
        flat = check_binary(spikes)
        slots, positions = flat.size, np.flatnonzero(flat).astype(np.int64)
        aw = address_width(slots)
        gaps = np.diff(positions, prepend=-1) - 1
        k = _best_k(gaps, aw)
        return to_bytes(
            np.concatenate(
                [
                    uint_bits([positions.size], count_width(slots)),
                    uint_bits([k], aw.bit_length()),
                    _rice_bits(gaps, k),
                ]
            )
        )

    def decode(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        slots = slots_of(shape)
        cw, aw = count_width(slots), address_width(slots)
        header = cw + aw.bit_length()
        bits = to_bits(data)
        count = int(read_uints(bits, 0, 1, cw)[0])
        k = int(read_uints(bits, cw, 1, aw.bit_length())[0])
        if count > slots or k > aw:
            raise FrameLost(f"the header says {count} spikes with k = {k} in {slots} slots")
        flat = np.zeros(slots, dtype=np.float64)
        if count == 0:
            check_frame_length(data, header)
            return flat.reshape(shape)
        ends = _unary_ends(bits, header, count, k)  # the 0 closing each code's unary part
        starts = np.concatenate([[header], ends[:-1] + 1 + k])
        check_frame_length(data, int(ends[-1]) + 1 + k)
        gaps = ((ends - starts) << k) + read_at(bits, ends + 1, k)
        positions = np.cumsum(gaps + 1) - 1
        if positions[-1] >= slots:
            raise FrameLost(f"the runs reach slot {positions[-1]} of {slots}")
        flat[positions] = 1.0
        return flat.reshape(shape)


def _unary_ends(bits: np.ndarray, start: int, count: int, k: int) -> np.ndarray:
    """Where each of ``count`` codes' unary part ends (its closing 0), reading from start."""
    zeros = np.flatnonzero(bits == 0)
    if count > zeros.size:  # every code needs a 0: bounds the loop before it runs
        raise FrameLost(f"the frame cannot hold {count} run codes")
    # next_zero[i]: the first 0 at or after bit i (bits.size where there is none)
    next_zero = np.full(bits.size + 1, bits.size, dtype=np.int64)
    next_zero[zeros] = zeros
    next_zero = np.minimum.accumulate(next_zero[::-1])[::-1].tolist()
    ends, p, size = [], start, bits.size
    for _ in range(count):
        z = next_zero[p] if p <= size else size
        if z >= size:
            raise FrameLost("the frame ends inside a run code")
        ends.append(z)
        p = z + 1 + k
    if p > size:
        raise FrameLost("the frame ends inside a run code")
    return np.asarray(ends, dtype=np.int64)
