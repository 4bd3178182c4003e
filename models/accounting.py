"""Exact accounting of what crosses the network, from shapes alone.

SpikeBottleNet bits = C' * H' * W' * T        (1 bit per spike slot)
BottleNet++ bits    = C' * H' * W' * 8        (8-bit quantised features)
raw spiking bits    = C * H * W * T
compression ratio   = raw bits / transmitted bits
"""

from __future__ import annotations

from dataclasses import dataclass

from sbn.models.config import BottleneckConfig, ModelConfig

BASELINE_BITS_PER_VALUE = 8


@dataclass(frozen=True)
class Payload:
    """What one sample sends across the split."""

    split: str
    raw_shape: tuple[int, int, int]  # (C, H, W) after the split RB
    payload_shape: tuple[int, int, int]  # (C', H', W') after the encoder
    time_steps: int

    @property
    def raw_bits(self) -> int:
        c, h, w = self.raw_shape
        return c * h * w * self.time_steps

    @property
    def spiking_bits(self) -> int:
        c, h, w = self.payload_shape
        return c * h * w * self.time_steps

    @property
    def baseline_bits(self) -> int:
        c, h, w = self.payload_shape
        return c * h * w * BASELINE_BITS_PER_VALUE

    @property
    def compression_ratio(self) -> float:
        return self.raw_bits / self.spiking_bits

    @property
    def reduction_vs_baseline(self) -> float:
        """Percent fewer bits than BottleNet++ at the same C' and stride."""
        return 100.0 * (1.0 - self.spiking_bits / self.baseline_bits)

    @property
    def bytes_per_sample(self) -> int:
        """Bytes on the wire for one sample when spikes are packed 8 to a byte."""
        return -(-self.spiking_bits // 8)


def block_output_shapes(config: ModelConfig) -> list[tuple[int, int, int]]:
    """(C, H, W) after each of RB1..RBn, per time step."""
    return [config.block_shape(k) for k in range(1, config.num_blocks + 1)]


def payload(config: ModelConfig, bottleneck: BottleneckConfig | None = None) -> Payload:
    """The payload of ``bottleneck`` (default: the config's own) inserted into ``config``."""
    b = bottleneck or config.bottleneck
    if b is None:
        raise ValueError("payload() needs a bottleneck: the config has none")
    config.with_bottleneck(b)  # validates split and stride against the shapes
    c, h, w = config.block_shape(b.split)
    return Payload(
        split=b.split_name,
        raw_shape=(c, h, w),
        payload_shape=(b.channels, h // b.stride, w // b.stride),
        time_steps=config.time_steps,
    )
