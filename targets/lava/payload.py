"""The device -> edge payload on the wire: 1 bit per spike slot.

One sample's payload is the device Output's spikes over T steps, shape [T, C', H', W'],
packed with ``numpy.packbits`` in C order (T slowest, then C', H', W'; the first slot in the
most significant bit of byte 0) and zero-padded to whole bytes:
``ceil(T * C' * H' * W' / 8)`` bytes per sample, the manifest's ``bits_per_sample / 8``
rounded up.
"""

from __future__ import annotations

import math

import numpy as np

from sbn.errors import SimulationError


def pack(spikes: np.ndarray) -> bytes:
    """One sample's spikes [T, C', H', W'] (values 0/1) -> bytes, 1 bit per slot."""
    values = np.asarray(spikes)
    if not np.isin(values, (0, 1)).all():
        bad = values[~np.isin(values, (0, 1))].ravel()[:3].tolist()
        raise SimulationError(f"the payload is not binary spikes (values {bad}); only spikes "
                              "can cross at 1 bit per slot")
    return np.packbits(values.astype(bool).ravel(), bitorder="big").tobytes()


def unpack(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """Bytes from ``pack`` -> float64 spikes of ``shape``; SimulationError on a size mismatch."""
    slots = math.prod(shape)
    if len(data) != packed_bytes(shape):
        raise SimulationError(f"payload of {len(data)} bytes does not hold shape {list(shape)} "
                              f"({packed_bytes(shape)} bytes)")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=slots, bitorder="big")
    return bits.reshape(shape).astype(np.float64)


def packed_bytes(shape: tuple[int, ...]) -> int:
    return (math.prod(shape) + 7) // 8
