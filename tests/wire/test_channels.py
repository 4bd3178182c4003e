"""Channel models: parsing, reproducibility, flip and loss statistics, bursts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sbn.errors import ConfigError
from sbn.wire import parse_channel
from sbn.wire.bitfields import to_bits

ZEROS = bytes(4096)  # 32,768 bits: a flipped bit is a 1


def flips(channel, data: bytes = ZEROS, seed: int = 0) -> np.ndarray:
    out = channel.corrupt(data, np.random.default_rng(seed))
    assert len(out) == len(data)
    return to_bits(out) ^ to_bits(data)


@pytest.mark.parametrize(
    "spec, kind, rate",
    [
        ("none", "Perfect", 0.0),
        ("bsc:1e-3", "BinarySymmetric", 1e-3),
        ("erasure:0.05", "PacketErasure", 0.05),
        ("erasure:0.05:16", "PacketErasure", 0.05),
        ("ge:0.01:0.1", "GilbertElliott", 0.01 / 0.11 * 0.5),
        ("ge:0.01:0.1:0.001:0.3", "GilbertElliott", 0.01 / 0.11 * 0.3 + 0.1 / 0.11 * 0.001),
        ("awgn:6", "AwgnBpsk", 0.5 * math.erfc(math.sqrt(10**0.6))),  # 2.39e-3, BPSK at 6 dB
        ("BSC:0", "BinarySymmetric", 0.0),
    ],
)
def test_specs_parse(spec, kind, rate):
    channel = parse_channel(spec)
    assert type(channel).__name__ == kind
    assert channel.error_rate == pytest.approx(rate, rel=1e-12)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("wifi:0.1", "unknown channel 'wifi:0.1': known are none"),
        ("bsc:1.5", "channel 'bsc:1.5': the flip probability P must be in [0, 1], got 1.5"),
        ("bsc:-0.1", "must be in [0, 1], got -0.1"),
        ("bsc:x", "the flip probability P must be a number, got 'x'"),
        ("bsc:nan", "must be finite"),
        ("bsc", "expected bsc:P"),
        ("bsc:0.1:2", "expected bsc:P"),
        ("erasure:0.1:0", "PACKET_BYTES must be a whole number >= 1, got 0"),
        ("erasure:0.1:2.5", "PACKET_BYTES must be a whole number >= 1"),
        ("ge:0.1", "expected ge:P_GB:P_BG"),
        ("ge:0.1:0", "P_BG = 0 never leaves the bad state"),
        ("ge:0.1:0.2:0:2", "E_BAD must be in [0, 1], got 2"),
        ("none:1", "'none' takes no parameters"),
    ],
)
def test_bad_specs_are_one_sentence(spec, message):
    with pytest.raises(ConfigError) as info:
        parse_channel(spec)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("spec", ["bsc:0.01", "erasure:0.2:8", "ge:0.01:0.2", "awgn:3"])
def test_same_seed_same_noise_other_seed_other_noise(spec):
    channel = parse_channel(spec)
    data = bytes(range(256)) * 8
    a = channel.corrupt(data, np.random.default_rng([7, 3]))
    assert a == channel.corrupt(data, np.random.default_rng([7, 3]))
    assert a != data
    assert a != channel.corrupt(data, np.random.default_rng([7, 4]))


def test_bsc_flips_at_its_rate():
    # 32,768 bits at p = 0.01: 327.7 flips expected, standard deviation 18
    counts = [int(flips(parse_channel("bsc:0.01"), seed=s).sum()) for s in range(20)]
    assert abs(np.mean(counts) - 327.68) < 3 * 18 / math.sqrt(20)
    assert np.std(counts) == pytest.approx(18.0, rel=0.5)
    assert flips(parse_channel("bsc:0")).sum() == 0
    assert flips(parse_channel("bsc:1")).all()
    # the flipped positions are spread uniformly: each quarter of the frame gets ~1/4
    quarters = flips(parse_channel("bsc:0.05")).reshape(4, -1).sum(axis=1)
    assert quarters.min() > 0.85 * quarters.mean()


def test_erasure_zeroes_whole_packets():
    data = b"\xff" * 100  # 16-byte packets: 6 full ones and a last of 4 bytes
    out = parse_channel("erasure:0.5:16").corrupt(data, np.random.default_rng(1))
    packets = [out[i : i + 16] for i in range(0, 100, 16)]
    assert len(out) == 100 and len(packets[-1]) == 4
    assert all(p in (b"\xff" * len(p), bytes(len(p))) for p in packets)  # whole packets or nothing
    assert 0 < sum(p == bytes(len(p)) for p in packets) < 7
    assert parse_channel("erasure:1").corrupt(data, np.random.default_rng(0)) == bytes(100)
    assert parse_channel("erasure:0").corrupt(data, np.random.default_rng(0)) == data


def test_erasure_loses_packets_at_its_rate():
    channel = parse_channel("erasure:0.1:1")  # 1-byte packets: 4096 per frame
    lost = [
        int((np.frombuffer(channel.corrupt(b"\x01" * 4096, np.random.default_rng(s)), np.uint8) == 0).sum())
        for s in range(10)
    ]
    assert abs(np.mean(lost) - 409.6) < 3 * math.sqrt(4096 * 0.09) / math.sqrt(10)


def _runs(mask: np.ndarray) -> np.ndarray:
    """Lengths of the runs of True in a bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def test_gilbert_elliott_bursts():
    ge = parse_channel("ge:0.002:0.05")  # bursts of 20 bits, 3.85 % of the time in B
    rng = np.random.default_rng(0)
    bad = np.concatenate([ge.bad_bits(32768, rng) for _ in range(10)])
    assert bad.mean() == pytest.approx(0.002 / 0.052, rel=0.15)
    assert _runs(bad).mean() == pytest.approx(20.0, rel=0.15)
    # the errors come in bursts: a flip is followed by another far more often than 1 in 52
    f = np.concatenate([flips(ge, seed=s) for s in range(10)]).astype(bool)
    assert f.mean() == pytest.approx(ge.error_rate, rel=0.2)
    after_a_flip = f[1:][f[:-1]].mean()
    assert after_a_flip > 0.3 > 10 * f.mean()
    # a BSC at the same mean rate has no such memory
    g = np.concatenate([flips(parse_channel(f"bsc:{ge.error_rate}"), seed=s) for s in range(10)]).astype(bool)
    assert g[1:][g[:-1]].mean() < 3 * g.mean()


def test_gilbert_elliott_without_transitions_stays_good():
    assert not flips(parse_channel("ge:0:0")).any()
    assert flips(parse_channel("ge:0:0:0.5")).mean() == pytest.approx(0.5, abs=0.02)
