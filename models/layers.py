"""Convolutions over time-major ``[T, B, C, H, W]`` tensors.

They are ordinary ``nn.Conv2d`` / ``nn.ConvTranspose2d`` (so exporters and the energy model
recognise them by type) that fold T into the batch for the call.

On the CPU the folded batch goes in as channels-last (NHWC): oneDNN's convolutions, forward
and backward, ran a training step 1.1-1.4x faster that way (docs/training.md). The output keeps
that layout and so do tdBN, the LIF and the residual sums, so only the stem's input is ever
converted; the weights keep the default layout (checkpoints are unchanged). Shapes and
values are the same; only the order in memory differs. On a GPU the layout stays as it
comes (``sbn train --channels-last`` chooses it there).
"""

from __future__ import annotations

import torch
from torch import nn


def fold_time(x: torch.Tensor) -> torch.Tensor:
    """``[T, B, C, H, W]`` -> ``[T*B, C, H, W]``, channels-last on the CPU (see above)."""
    flat = x.flatten(0, 1)
    if flat.device.type == "cpu":
        return flat.contiguous(memory_format=torch.channels_last)
    return flat


class SeqConv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        return super().forward(fold_time(x)).unflatten(0, (t, b))


class SeqConvTranspose2d(nn.ConvTranspose2d):
    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        t, b = x.shape[:2]
        return super().forward(fold_time(x)).unflatten(0, (t, b))


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> SeqConv2d:
    return SeqConv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> SeqConv2d:
    return SeqConv2d(in_planes, out_planes, 1, stride=stride, bias=False)
