"""A dataset held on the training device: batches are indexed, augmented and converted
to float there, so the input pipeline is a handful of tensor ops per batch.

The data order and the augmentation draws come from a CPU generator in the same order as
``ImageDataset.batches`` followed by ``augment_batch`` (permutation first, then per batch
the crop offsets and flips), so a run gives the same batches on every device. Under data
parallelism every rank draws the same global batch and keeps its ``Shard`` of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from sbn.data.augment import CropFlip, crop_flip
from sbn.data.base import ImageDataset, to_unit_float


@dataclass(frozen=True)
class Shard:
    """Rank ``rank`` of ``world`` keeps a contiguous part of each batch; the parts differ by
    at most one image (``torch.tensor_split``'s rule) and together are the batch."""

    rank: int = 0
    world: int = 1

    def rows(self, n: int) -> slice:
        base, extra = divmod(n, self.world)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))


@dataclass(frozen=True)
class Batch:
    images: torch.Tensor  # [n, C, H, W] float32 in [0, 1], this rank's share, on the device
    labels: torch.Tensor  # [n]
    total: int  # images in the whole batch, over all ranks


class DeviceData:
    """``data`` moved to ``device`` once (uint8 CIFAR: 150 MB for the training set)."""

    def __init__(
        self, data: ImageDataset, device: torch.device | str = "cpu", shard: Shard = Shard()
    ) -> None:
        self.name = data.name
        self.device = torch.device(device)
        self.shard = shard
        self.pixels = data.pixels.to(self.device)
        self.labels = data.labels.to(self.device)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        augment: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[Batch]:
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        order = order.to(self.device)  # one transfer per epoch
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            draws = CropFlip.draw(len(idx), generator) if augment else None
            rows = self.shard.rows(len(idx))
            mine = idx[rows]
            images = self.pixels[mine]
            if draws is not None:
                images = crop_flip(images, draws.part(rows))
            yield Batch(to_unit_float(images), self.labels[mine], len(idx))
