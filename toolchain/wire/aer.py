"""Address-event list: the spike count, then each spike's slot address.

Frame: the count in ``count_width`` bits (enough for 0..slots), then one address per spike
in ``address_width`` bits (enough for 0..slots-1), both derived from the payload's shape;
addresses in C order of the [T, C', H', W'] slots, MSB first, zero-padded to a whole byte.
Smaller than the bitmap when fewer than about 1 slot in ``address_width`` spikes.

Under noise: a flipped address bit moves a spike (an address past the last slot is
dropped, as a receiver drops an event for a neuron it does not have); a flipped count bit
makes the frame's length disagree with its header, and the frame is lost.
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
    read_uints,
    slots_of,
    to_bits,
    to_bytes,
    uint_bits,
)


class AddressEvents(Codec):
    name = "aer"
    summary = "spike count + one address per spike (address width from the shape)"

    def encode(self, spikes: np.ndarray) -> bytes:
        flat = check_binary(spikes)
        addresses = np.flatnonzero(flat)
        slots = flat.size
        return to_bytes(
            np.concatenate(
                [uint_bits([addresses.size], count_width(slots)), uint_bits(addresses, address_width(slots))]
            )
        )

    def decode(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        slots = slots_of(shape)
        cw, aw = count_width(slots), address_width(slots)
        bits = to_bits(data)
        (count,) = read_uints(bits, 0, 1, cw)
        if count > slots:
            raise FrameLost(f"the header counts {count} spikes in {slots} slots")
        check_frame_length(data, cw + int(count) * aw)  # bounds count before reading
        addresses = read_uints(bits, cw, int(count), aw)
        flat = np.zeros(slots, dtype=np.float64)
        flat[addresses[addresses < slots]] = 1.0
        return flat.reshape(shape)
