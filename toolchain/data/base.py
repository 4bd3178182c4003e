"""The one dataset type every loader returns."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from sbn.errors import DataError

#: the storage types a dataset may hold its pixels in
PIXEL_DTYPES = (torch.uint8, torch.float32)


def to_unit_float(pixels: torch.Tensor) -> torch.Tensor:
    """Pixels as float32 in [0, 1]: uint8 values are divided by 255, floats pass through.

    Divides the same way the CIFAR loader always has (``float().div_(255)``), so a batch
    converted on the device is bit-identical to the whole set converted on load.
    """
    if pixels.dtype == torch.uint8:
        return pixels.float().div_(255.0)
    return pixels


@dataclass(frozen=True)
class ImageDataset:
    """Pixels ``[N, C, H, W]`` and labels ``[N]`` int64 in [0, num_classes).

    ``pixels`` are uint8 (value = pixel / 255: CIFAR, a quarter of float32's memory and
    transfer) or float32 in [0, 1] (digits' 17 grey levels are not multiples of 1/255).
    ``images`` is always float32 in [0, 1], made once on first use.
    """

    name: str
    pixels: torch.Tensor
    labels: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        if self.pixels.ndim != 4:
            raise DataError(f"{self.name}: images must be [N, C, H, W], got {tuple(self.pixels.shape)}")
        if self.pixels.dtype not in PIXEL_DTYPES:
            raise DataError(f"{self.name}: pixels must be uint8 or float32, got {self.pixels.dtype}")
        if self.labels.shape != (self.pixels.shape[0],):
            raise DataError(
                f"{self.name}: {self.pixels.shape[0]} images but labels of shape {tuple(self.labels.shape)}"
            )
        if len(self.labels) and not 0 <= int(self.labels.min()) <= int(self.labels.max()) < self.num_classes:
            raise DataError(
                f"{self.name}: labels must lie in 0..{self.num_classes - 1}, found "
                f"{int(self.labels.min())}..{int(self.labels.max())}"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @cached_property
    def images(self) -> torch.Tensor:
        """All images, float32 in [0, 1] (a copy for uint8 pixels, kept once made)."""
        return to_unit_float(self.pixels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.pixels.shape[1:])  # type: ignore[return-value]

    def subset(self, count: int | None) -> ImageDataset:
        """The first ``count`` samples (all when None)."""
        if count is None or count >= len(self):
            return self
        return ImageDataset(self.name, self.pixels[:count], self.labels[:count], self.num_classes)

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None):
        """Yield (images float32 in [0, 1], labels) mini-batches on the CPU."""
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for start in range(0, len(self), batch_size):
            idx = order[start : start + batch_size]
            yield to_unit_float(self.pixels[idx]), self.labels[idx]
