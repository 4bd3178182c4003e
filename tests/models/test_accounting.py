"""Transmitted bits and compression ratios against hand-computed values."""

import pytest

from sbn.errors import ConfigError
from sbn.models import BottleneckConfig, ModelConfig, parse_split, payload


def test_headline_example():
    # RB16, T=4: raw 2048*4*4*4 = 131,072 bits; C'=32, stride 2 -> 32*2*2*4 = 512 bits, 256x
    p = payload(ModelConfig(time_steps=4), BottleneckConfig(16, 32, 2))
    assert p.raw_bits == 131_072
    assert p.spiking_bits == 512
    assert p.compression_ratio == 256.0
    assert p.baseline_bits == 32 * 2 * 2 * 8 == 1024
    assert p.reduction_vs_baseline == 50.0
    assert p.bytes_per_sample == 64
    assert p.payload_shape == (32, 2, 2)


@pytest.mark.parametrize(
    "split, channels, stride, t, raw, spiking, baseline",
    [
        # RB1: 256x32x32; C'=16 -> 16*32*32*2 = 32,768; raw 256*1024*2 = 524,288; baseline 16*1024*8
        (1, 16, 1, 2, 524_288, 32_768, 131_072),
        # RB7: 512x16x16; C'=8, s=2 -> 8*8*8*4 = 2,048; raw 512*256*4 = 524,288; baseline 8*64*8 = 4,096
        (7, 8, 2, 4, 524_288, 2_048, 4_096),
        # RB13: 1024x8x8; C'=64 -> 64*64*2 = 8,192; raw 1024*64*2 = 131,072; baseline 64*64*8 = 32,768
        (13, 64, 1, 2, 131_072, 8_192, 32_768),
    ],
)
def test_table(split, channels, stride, t, raw, spiking, baseline):
    p = payload(ModelConfig(time_steps=t), BottleneckConfig(split, channels, stride))
    assert (p.raw_bits, p.spiking_bits, p.baseline_bits) == (raw, spiking, baseline)
    assert p.compression_ratio == raw / spiking
    assert p.reduction_vs_baseline == pytest.approx(100 * (1 - t / 8))


def test_bytes_round_up():
    # RB16 with stride 4 and C'=1, T=1: one bit still costs one byte on the wire
    p = payload(ModelConfig(time_steps=1), BottleneckConfig(16, 1, 4))
    assert p.spiking_bits == 1
    assert p.bytes_per_sample == 1


def test_stride_must_divide_map():
    with pytest.raises(ConfigError, match="stride 3 does not divide the 4x4 map after RB16"):
        payload(ModelConfig(), BottleneckConfig(16, 32, 3))


def test_split_names():
    assert parse_split("RB7") == parse_split("rb7") == parse_split(7) == 7
    with pytest.raises(ConfigError, match=r"valid splits are RB1..RB16"):
        parse_split("RB17")
    with pytest.raises(ConfigError, match="unknown split 'layer3'"):
        parse_split("layer3")
