"""Convolutions over time-major ``[T, B, C, H, W]`` tensors.

They are ordinary ``nn.Conv2d`` / ``nn.ConvTranspose2d`` (so exporters and the energy model
recognise them by type) that fold T into the batch for the call.
"""

from __future__ import annotations

import torch
from torch import nn


class SeqConv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        return super().forward(x.flatten(0, 1)).unflatten(0, (t, b))


class SeqConvTranspose2d(nn.ConvTranspose2d):
    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        t, b = x.shape[:2]
        return super().forward(x.flatten(0, 1)).unflatten(0, (t, b))


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> SeqConv2d:
    return SeqConv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> SeqConv2d:
    return SeqConv2d(in_planes, out_planes, 1, stride=stride, bias=False)
