"""CIFAR's standard augmentation, for a whole batch at once on any device.

Random crop of the image zero-padded by 4 pixels on each side, then a horizontal flip with
probability 1/2 (He et al., 2016, section 4.2). The random draws (per image: row offset,
column offset, flip) come from a CPU generator in a fixed order, so that the batch is the
same on every device and, under data parallelism, on every rank whatever its share; the
crop itself is one gather on the batch's device, with no loop over images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

PAD = 4


@dataclass(frozen=True)
class CropFlip:
    """The random part of the augmentation for ``n`` images (CPU int64/bool tensors)."""

    dy: torch.Tensor  # [n] row offset into the padded image, 0..2*PAD
    dx: torch.Tensor  # [n] column offset, 0..2*PAD
    flip: torch.Tensor  # [n] bool

    @classmethod
    def draw(cls, n: int, generator: torch.Generator | None) -> CropFlip:
        dy = torch.randint(0, 2 * PAD + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * PAD + 1, (n,), generator=generator)
        flip = torch.rand(n, generator=generator) < 0.5
        return cls(dy, dx, flip)

    def part(self, rows: slice) -> CropFlip:
        """The draws of the images ``rows`` (one rank's share of a batch)."""
        return CropFlip(self.dy[rows], self.dx[rows], self.flip[rows])


def crop_flip(images: torch.Tensor, draws: CropFlip) -> torch.Tensor:
    """Apply ``draws`` to ``images`` ``[n, C, H, W]`` (any dtype, any device)."""
    n, c, h, w = images.shape
    device = images.device
    padded = F.pad(images, (PAD, PAD, PAD, PAD)).flatten(2)  # [n, C, (H+8)(W+8)]
    rows = draws.dy.to(device)[:, None] + torch.arange(h, device=device)  # [n, H]
    cols = draws.dx.to(device)[:, None] + torch.arange(w, device=device)  # [n, W]
    cols = torch.where(draws.flip.to(device)[:, None], cols.flip(1), cols)
    # one gather of the H*W source pixels of each image, the same for all its channels
    index = (rows[:, :, None] * (w + 2 * PAD) + cols[:, None, :]).flatten(1)  # [n, H*W]
    return padded.gather(2, index[:, None, :].expand(n, c, h * w)).view(n, c, h, w)


def augment_batch(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Draw and apply the augmentation for ``images`` ``[n, C, H, W]``."""
    return crop_flip(images, CropFlip.draw(images.shape[0], generator))
