"""The link between device and edge: encode each sample's payload, pass the bytes through
the channel, decode what arrives.

Frame i's channel noise comes from ``numpy.random.default_rng([seed, i])`` (i: the sample's
index in the whole evaluation), so a run is reproducible whatever the chunking or the
number of workers, and every codec meets the same random draws on the same sample. A frame
that does not decode (``FrameLost``) is counted as lost and the edge receives an all-zero
payload in its place: the edge still answers, as a deployed server whose frame timed out
would have to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sbn.errors import FrameLost
from sbn.wire.base import Codec
from sbn.wire.channel import Channel
from sbn.wire.channels import Perfect, parse_channel
from sbn.wire.codecs import DEFAULT_CODEC, get_codec


@dataclass
class Delivery:
    """What the edge receives for a batch of frames."""

    received: np.ndarray  # [T, B, C', H', W'] float64 spikes (zeros for a lost frame)
    sent_bytes: list[int]  # coded bytes per sample, as sent
    lost: list[bool] = field(default_factory=list)

    @property
    def lost_frames(self) -> int:
        return sum(self.lost)


@dataclass(frozen=True)
class Link:
    codec: Codec
    channel: Channel
    seed: int = 0

    @classmethod
    def named(cls, codec: str = DEFAULT_CODEC, channel: str = "none", seed: int = 0) -> Link:
        return cls(get_codec(codec), parse_channel(channel), seed)

    @classmethod
    def perfect(cls) -> Link:
        return cls(get_codec(DEFAULT_CODEC), Perfect("none"))

    def send(self, sent: np.ndarray, first_index: int = 0) -> Delivery:
        """Carry ``sent`` [T, B, ...] (sample b is frame ``first_index + b``) to the edge."""
        frames = [self.codec.encode(sent[:, b]) for b in range(sent.shape[1])]
        return self.deliver(frames, (sent.shape[0], *sent.shape[2:]), first_index)

    def deliver(self, frames: list[bytes], shape: tuple[int, ...], first_index: int = 0) -> Delivery:
        """Frames already coded (one sample's ``shape`` each) through the channel and decoder."""
        received = np.zeros((shape[0], len(frames), *shape[1:]), dtype=np.float64)
        lost = []
        for b, frame in enumerate(frames):
            if not self.channel.perfect:
                frame = self.channel.corrupt(frame, np.random.default_rng([self.seed, first_index + b]))
            try:
                received[:, b] = self.codec.decode(frame, shape)
                lost.append(False)
            except FrameLost:
                lost.append(True)
        return Delivery(received, [len(f) for f in frames], lost)

    def describe(self) -> dict:
        return {"codec": self.codec.name, "channel": self.channel.spec, "seed": self.seed}
