"""1 bit per spike slot: documented order, round trip, sizes, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from sbn.errors import SimulationError
from sbn.targets.lava import pack, packed_bytes, unpack


def test_bit_order_is_c_order_most_significant_bit_first():
    spikes = np.zeros((2, 1, 2, 3))  # [T, C', H', W']: 12 slots -> 2 bytes
    spikes[0, 0, 0, 0] = 1  # slot 0: the top bit of byte 0
    spikes[0, 0, 1, 2] = 1  # slot 5
    spikes[1, 0, 1, 1] = 1  # slot 6 + 3 + 1 = 10: byte 1, bit 2 from the top
    assert pack(spikes) == bytes([0b10000100, 0b00100000])


@pytest.mark.parametrize("shape", [(4, 32, 2, 2), (2, 3, 5, 7), (1, 1, 1, 1)])
def test_round_trip_and_size(shape):
    spikes = (np.random.default_rng(0).random(shape) < 0.3).astype(float)
    data = pack(spikes)
    assert len(data) == packed_bytes(shape) == -(-int(np.prod(shape)) // 8)
    np.testing.assert_array_equal(unpack(data, shape), spikes)


def test_headline_payload_is_64_bytes():
    """RB16, C' = 32 on 2x2, T = 4: 512 bits (the method's headline) -> 64 bytes."""
    assert packed_bytes((4, 32, 2, 2)) == 64


def test_non_binary_payload_and_wrong_size_are_refused():
    with pytest.raises(SimulationError, match="not binary spikes"):
        pack(np.array([[0.0, 0.5]]))
    with pytest.raises(SimulationError, match="does not hold shape"):
        unpack(b"\x00\x00", (4, 5))
