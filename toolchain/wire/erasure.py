"""Packet erasure: the frame travels in packets of PACKET_BYTES; each packet is lost with
probability P, independently. The receiver knows the frame's length and which packets
arrived (sequence numbers, as any packet link has), so a lost packet becomes zeros in
place: for the bitmap, slots without spikes; for a structured codec, usually a frame that
no longer decodes (and is counted lost)."""

from __future__ import annotations

import numpy as np

from sbn.errors import ConfigError
from sbn.wire.channel import Channel, arity, number, probability

DEFAULT_PACKET_BYTES = 64


class PacketErasure(Channel):
    name = "erasure"
    usage = f"erasure:P[:PACKET_BYTES] (P: packet loss probability 0..1; packets of {DEFAULT_PACKET_BYTES} bytes unless given)"
    measure = "packet loss rate"

    def __init__(self, spec: str, p: float, packet_bytes: int = DEFAULT_PACKET_BYTES) -> None:
        super().__init__(spec)
        self.p, self.packet_bytes = p, packet_bytes

    @classmethod
    def from_args(cls, spec: str, args: list[str]) -> PacketErasure:
        arity(cls, spec, args, 1, 2)
        p = probability(spec, args[0], "the packet loss probability P")
        size = DEFAULT_PACKET_BYTES
        if len(args) == 2:
            size = number(spec, args[1], "PACKET_BYTES")
            if size < 1 or size != int(size):
                raise ConfigError(
                    f"channel {spec!r}: PACKET_BYTES must be a whole number >= 1, got {args[1]}"
                )
        return cls(spec, p, int(size))

    @property
    def error_rate(self) -> float:
        return self.p

    def corrupt(self, data: bytes, rng: np.random.Generator) -> bytes:
        packets = -(-len(data) // self.packet_bytes)
        lost = np.flatnonzero(rng.random(packets) < self.p)
        if lost.size == 0:
            return data
        out = bytearray(data)
        for i in lost.tolist():
            start = i * self.packet_bytes
            end = min(start + self.packet_bytes, len(out))
            out[start:end] = bytes(end - start)
        return bytes(out)
