"""Batched augmentation and the device loader against the per-image reference."""

import pytest
import torch
import torch.nn.functional as F

from sbn.data import ImageDataset
from sbn.data.augment import CropFlip, augment_batch, crop_flip
from sbn.data.loader import DeviceData, Shard


def per_image_reference(images, generator):
    """The trainer's augmentation before it was batched: one crop per image in Python."""
    n, _, h, w = images.shape
    padded = F.pad(images, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(images)
    for i in range(n):
        crop = padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_batched_crop_and_flip_equal_the_per_image_loop(dtype):
    images = (torch.rand(37, 3, 32, 32) * 255).to(dtype)
    a = augment_batch(images, torch.Generator().manual_seed(5))
    b = per_image_reference(images, torch.Generator().manual_seed(5))
    assert a.dtype == dtype and torch.equal(a, b)


def test_a_hand_computed_crop():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    # offset (4, 4) in the 4-padded image is the image itself; (5, 3) moves it up one row
    # and right one column (zeros come in from the padding), then the flip mirrors it
    same = crop_flip(image, CropFlip(torch.tensor([4]), torch.tensor([4]), torch.tensor([False])))
    assert torch.equal(same, image)
    moved = crop_flip(image, CropFlip(torch.tensor([5]), torch.tensor([3]), torch.tensor([True])))
    expected = torch.tensor(
        [[6.0, 5.0, 4.0, 0.0], [10.0, 9.0, 8.0, 0.0], [14.0, 13.0, 12.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    )
    assert torch.equal(moved[0, 0], expected)


def test_the_device_loader_gives_the_trainers_batches():
    """Same permutation, same augmentation draws, same float values as ImageDataset.batches
    followed by the per-image augmentation (uint8 pixels converted per batch)."""
    pixels = torch.randint(0, 256, (50, 3, 32, 32), dtype=torch.uint8)
    data = ImageDataset("u8", pixels, torch.arange(50) % 10, 10)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    reference = [(per_image_reference(x, g1), y) for x, y in data.batches(16, shuffle=True, generator=g1)]
    got = list(DeviceData(data).batches(16, shuffle=True, augment=True, generator=g2))
    assert [b.total for b in got] == [16, 16, 16, 2]
    for (x, y), b in zip(reference, got):
        assert b.images.dtype == torch.float32 and torch.equal(b.images, x)
        assert torch.equal(b.labels, y)
    assert torch.equal(data.images, pixels.float() / 255)  # the float view, made once


def test_rank_shares_make_up_each_batch():
    data = ImageDataset("f", torch.rand(23, 3, 32, 32), torch.arange(23) % 10, 10)
    whole = list(
        DeviceData(data).batches(10, shuffle=True, augment=True, generator=torch.Generator().manual_seed(1))
    )
    parts = [
        list(
            DeviceData(data, shard=Shard(r, 3)).batches(
                10, shuffle=True, augment=True, generator=torch.Generator().manual_seed(1)
            )
        )
        for r in range(3)
    ]
    for i, batch in enumerate(whole):
        shares = [p[i] for p in parts]
        assert [len(s.labels) for s in shares] == [len(t) for t in torch.arange(batch.total).tensor_split(3)]
        assert torch.equal(torch.cat([s.images for s in shares]), batch.images)
        assert all(s.total == batch.total for s in shares)
