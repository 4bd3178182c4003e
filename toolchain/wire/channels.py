"""The channel models by name, and the SPEC parser the CLI uses (``bsc:1e-3``)."""

from __future__ import annotations

from sbn.errors import ConfigError
from sbn.wire.bit_errors import AwgnBpsk, BinarySymmetric
from sbn.wire.channel import Channel
from sbn.wire.erasure import PacketErasure
from sbn.wire.gilbert_elliott import GilbertElliott


class Perfect(Channel):
    name = "none"
    usage = "none (a perfect link)"
    measure = "bit error rate"

    @classmethod
    def from_args(cls, spec: str, args: list[str]) -> Perfect:
        if args:
            raise ConfigError(f"channel {spec!r}: 'none' takes no parameters")
        return cls(spec)

    @property
    def error_rate(self) -> float:
        return 0.0

    def corrupt(self, data, rng):
        return data


#: SPEC prefix -> channel class
CHANNELS: dict[str, type[Channel]] = {
    c.name: c for c in (Perfect, BinarySymmetric, PacketErasure, GilbertElliott, AwgnBpsk)
}


def parse_channel(spec: str) -> Channel:
    """``NAME[:ARG...]`` -> a channel; ConfigError naming the spec and the known forms."""
    name, *args = spec.strip().split(":")
    cls = CHANNELS.get(name.lower())
    if cls is None:
        raise ConfigError(
            f"unknown channel {spec!r}: known are " + "; ".join(c.usage for c in CHANNELS.values())
        )
    return cls.from_args(spec.strip(), args)
