"""The wire between device and edge: payload codecs and channel models.

    codec = get_codec("aer")                   # CODECS: bitmap, aer, rle, zlib, lzma
    data = codec.encode(spikes)                # one sample's [T, C', H', W'] 0/1 spikes
    spikes = codec.decode(data, shape)         # lossless; FrameLost when a frame is unreadable
    channel = parse_channel("bsc:1e-3")        # CHANNELS: none, bsc, erasure, ge, awgn
    link = Link.named("rle", "ge:1e-3:0.1", seed=0)
    delivery = link.send(sent)                 # [T, B, ...] -> received, bytes, lost frames

Plain numpy and the standard library: nothing here needs Lava or torch. See docs/wire.md.
"""

from sbn.wire.base import Codec
from sbn.wire.channel import Channel
from sbn.wire.channels import CHANNELS, parse_channel
from sbn.wire.codecs import CODECS, DEFAULT_CODEC, get_codec
from sbn.wire.link import Delivery, Link

__all__ = [
    "CHANNELS",
    "CODECS",
    "DEFAULT_CODEC",
    "Channel",
    "Codec",
    "Delivery",
    "Link",
    "get_codec",
    "parse_channel",
]
