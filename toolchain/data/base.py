"""The one dataset type every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sbn.errors import DataError


@dataclass(frozen=True)
class ImageDataset:
    """Images ``[N, C, H, W]`` float32 in [0, 1] and labels ``[N]`` int64 in [0, num_classes)."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise DataError(f"{self.name}: images must be [N, C, H, W], got {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise DataError(
                f"{self.name}: {self.images.shape[0]} images but labels of shape "
                f"{tuple(self.labels.shape)}"
            )
        if len(self.labels) and not 0 <= int(self.labels.min()) <= int(self.labels.max()) < self.num_classes:
            raise DataError(
                f"{self.name}: labels must lie in 0..{self.num_classes - 1}, found "
                f"{int(self.labels.min())}..{int(self.labels.max())}"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, count: int | None) -> "ImageDataset":
        """The first ``count`` samples (all when None)."""
        if count is None or count >= len(self):
            return self
        return ImageDataset(self.name, self.images[:count], self.labels[:count], self.num_classes)

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None):
        """Yield (images, labels) mini-batches."""
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for start in range(0, len(self), batch_size):
            idx = order[start:start + batch_size]
            yield self.images[idx], self.labels[idx]
