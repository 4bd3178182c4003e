"""The link: codec + channel per frame, lost frames counted and replaced by zeros."""

from __future__ import annotations

import numpy as np
import pytest

from sbn.wire import Link


def payloads(b: int = 12, rate: float = 0.15) -> np.ndarray:
    return (np.random.default_rng(2).random((2, b, 4, 8, 8)) < rate).astype(float)


@pytest.mark.parametrize("codec", ["bitmap", "aer", "rle", "zlib", "lzma"])
def test_a_perfect_link_delivers_what_was_sent(codec):
    sent = payloads()
    d = Link.named(codec).send(sent)
    np.testing.assert_array_equal(d.received, sent)
    assert d.lost_frames == 0 and len(d.sent_bytes) == 12
    if codec == "bitmap":
        assert d.sent_bytes == [64] * 12  # 2 * 4 * 8 * 8 = 512 slots


def test_lost_frames_are_counted_and_arrive_as_zeros():
    sent = payloads()
    d = Link.named("zlib", "bsc:0.01", seed=0).send(sent)  # ~5 flips per frame: Adler-32 fails
    assert d.lost == [True] * 12 and d.lost_frames == 12
    assert not d.received.any()


def test_bitmap_never_loses_a_frame_it_flips_spikes():
    sent = payloads()
    d = Link.named("bitmap", "bsc:0.05", seed=0).send(sent)
    assert d.lost_frames == 0
    assert (d.received != sent).mean() == pytest.approx(0.05, abs=0.015)


def test_noise_depends_on_seed_and_sample_index_not_on_batching():
    sent = payloads()
    link = Link.named("aer", "bsc:0.002", seed=5)
    whole = link.send(sent)
    halves = [link.send(sent[:, :6]), link.send(sent[:, 6:], first_index=6)]
    np.testing.assert_array_equal(whole.received, np.concatenate([h.received for h in halves], axis=1))
    assert whole.lost == halves[0].lost + halves[1].lost
    other = Link.named("aer", "bsc:0.002", seed=6).send(sent)
    assert not np.array_equal(other.received, whole.received)


def test_erasure_of_the_bitmap_drops_the_spikes_of_the_lost_packet():
    sent = np.ones((1, 1, 1, 8, 16))  # 128 slots = 16 bytes = two 8-byte packets
    d = Link.named("bitmap", "erasure:0.5:8", seed=0).send(np.repeat(sent, 20, axis=1))
    per_frame = d.received.reshape(20, 2, 64).sum(axis=2)  # spikes left in each packet's half
    assert set(per_frame.ravel().tolist()) == {0.0, 64.0}
    assert d.lost_frames == 0
