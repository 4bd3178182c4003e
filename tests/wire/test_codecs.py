"""Every codec: lossless round trips, hand-computed frames, refusals, lost frames."""

from __future__ import annotations

import numpy as np
import pytest

from sbn.errors import ConfigError, FrameLost, WireError
from sbn.wire import CODECS, get_codec
from sbn.wire.bitfields import address_width, count_width
from sbn.wire.bitmap import packed_bytes

#: [T = 2, C' = 1, H' = 2, W' = 2]: 8 slots; spikes in slots 0 and 5
TINY = np.zeros((2, 1, 2, 2))
TINY[0, 0, 0, 0] = 1
TINY[1, 0, 0, 1] = 1  # slot 4 + 0 * 2 + 1 = 5


def test_widths_follow_the_shape():
    assert (address_width(8), count_width(8)) == (3, 4)  # addresses 0..7, counts 0..8
    assert (address_width(512), count_width(512)) == (9, 10)  # the RB16 headline payload
    assert (address_width(1), count_width(1)) == (1, 1)


@pytest.mark.parametrize(
    "name, frame",
    [
        ("bitmap", bytes([0b10000100])),  # slot 0 and slot 5, MSB first
        # count 2 in 4 bits, then addresses 0 and 5 in 3 bits: 0010 000 101 + 6 zero bits
        ("aer", bytes([0b00100001, 0b01000000])),
        # count 2 (4 bits), k = 0 (2 bits: k <= address width 3), gap 0 -> "0", gap 4 -> "11110"
        ("rle", bytes([0b00100001, 0b11100000])),
    ],
)
def test_hand_computed_frames(name, frame):
    codec = get_codec(name)
    assert codec.encode(TINY) == frame
    np.testing.assert_array_equal(codec.decode(frame, TINY.shape), TINY)


def test_bitmap_bit_order_is_c_order_most_significant_bit_first():
    spikes = np.zeros((2, 1, 2, 3))  # [T, C', H', W']: 12 slots -> 2 bytes
    spikes[0, 0, 0, 0] = 1  # slot 0: the top bit of byte 0
    spikes[0, 0, 1, 2] = 1  # slot 5
    spikes[1, 0, 1, 1] = 1  # slot 6 + 3 + 1 = 10: byte 1, bit 2 from the top
    assert get_codec("bitmap").encode(spikes) == bytes([0b10000100, 0b00100000])


def test_headline_bitmap_is_64_bytes():
    """RB16, C' = 32 on 2x2, T = 4: 512 bits (the method's headline) -> 64 bytes."""
    assert packed_bytes((4, 32, 2, 2)) == 64
    assert len(get_codec("bitmap").encode(np.ones((4, 32, 2, 2)))) == 64


def test_entropy_coders_are_the_standard_library_over_the_bitmap():
    import lzma
    import zlib

    bitmap = get_codec("bitmap").encode(TINY)
    assert zlib.decompress(get_codec("zlib").encode(TINY)) == bitmap
    assert (
        lzma.decompress(
            get_codec("lzma").encode(TINY), format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}]
        )
        == bitmap
    )


@pytest.mark.parametrize("name", list(CODECS))
@pytest.mark.parametrize(
    "shape, rate",
    [
        ((4, 32, 2, 2), 0.15),
        ((2, 3, 5, 7), 0.5),
        ((1, 1, 1, 1), 1.0),
        ((2, 8, 16, 16), 0.0),
        ((2, 8, 16, 16), 0.02),
        ((3, 1, 1, 5), 1.0),
    ],
)
def test_random_round_trip(name, shape, rate):
    spikes = (np.random.default_rng(0).random(shape) < rate).astype(float)
    codec = get_codec(name)
    out = codec.decode(codec.encode(spikes), shape)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, spikes)


@pytest.mark.parametrize("name", list(CODECS))
def test_real_payload_round_trip(name, real_payloads):
    codec = get_codec(name)
    assert 0.01 < real_payloads.mean() < 0.9  # the payload fires, and not everywhere
    shape = (real_payloads.shape[0], *real_payloads.shape[2:])
    for b in range(real_payloads.shape[1]):
        np.testing.assert_array_equal(
            codec.decode(codec.encode(real_payloads[:, b]), shape), real_payloads[:, b]
        )


def test_sparse_payloads_favour_events_and_runs_dense_ones_the_bitmap():
    shape = (4, 32, 16, 16)  # 32,768 slots: addresses of 15 bits
    sizes = {}
    for rate in (0.01, 0.5):
        spikes = (np.random.default_rng(1).random(shape) < rate).astype(float)
        sizes[rate] = {n: len(c.encode(spikes)) for n, c in CODECS.items()}
    assert sizes[0.01]["aer"] < sizes[0.01]["bitmap"] / 4
    assert sizes[0.01]["rle"] < sizes[0.01]["aer"]  # ~8 bits per spike vs 15
    assert sizes[0.5]["bitmap"] == 4096 < sizes[0.5]["aer"]
    assert sizes[0.5]["bitmap"] <= sizes[0.5]["rle"] <= 4096 * 1.1  # k = 0: 2 bits per spike


@pytest.mark.parametrize("name", list(CODECS))
def test_non_binary_payload_is_refused(name):
    with pytest.raises(WireError, match=r"not binary spikes \(values \[0.5\]\)"):
        get_codec(name).encode(np.array([[0.0, 0.5]]))


def test_unknown_codec_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown codec 'huffman': known are bitmap, aer, rle, zlib, lzma"):
        get_codec("huffman")


@pytest.mark.parametrize(
    "name, frame",
    [
        ("bitmap", b"\x00\x00"),  # one byte too many for 8 slots
        ("aer", b"\x30"),  # count 3 needs 4 + 3 * 3 bits: 2 bytes, not 1
        ("aer", bytes([0b10010000, 0])),  # count 9 > 8 slots
        ("aer", b""),  # no header at all
        ("rle", bytes([0b00100011, 0b11111111])),  # the first code never closes its unary part
        ("rle", bytes([0b00100011, 0b11111100])),  # gaps 7 and 0: slots 7 and 8, past the last
        ("rle", bytes([0b00100001, 0b11100000, 0])),  # a byte more than the codes
        ("zlib", b"\x78\xda\x00"),  # a truncated zlib stream
        ("lzma", b"\x01\x02\x03"),  # not LZMA2 at all
    ],
)
def test_corrupted_frames_are_lost_not_crashes(name, frame):
    with pytest.raises(FrameLost):
        get_codec(name).decode(frame, TINY.shape)


@pytest.mark.parametrize("name", ["aer", "rle", "zlib", "lzma"])
def test_every_single_bit_flip_decodes_or_is_lost(name, real_payloads):
    """Flip each bit of a real frame in turn: the decoder returns a payload of the right
    shape or raises FrameLost; nothing else escapes."""
    codec = get_codec(name)
    sample = real_payloads[:, 0]
    frame = codec.encode(sample)
    outcomes = {"ok": 0, "lost": 0}
    for bit in range(0, 8 * len(frame), max(1, len(frame) // 64)):
        damaged = bytearray(frame)
        damaged[bit // 8] ^= 0x80 >> (bit % 8)
        try:
            assert codec.decode(bytes(damaged), sample.shape).shape == sample.shape
            outcomes["ok"] += 1
        except FrameLost:
            outcomes["lost"] += 1
    assert outcomes["lost"] > 0
    if name == "zlib":  # Adler-32 catches a flipped bit in the data
        assert outcomes["ok"] <= outcomes["lost"] // 20
