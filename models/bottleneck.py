"""The learned bottleneck units and the split model that carries one.

SpikeBottleNet's unit: encoder conv (C -> C', stride s) + tdBN + LIF on the device, whose
binary output is the transmitted tensor; decoder transposed conv (C' -> C, stride s) + tdBN
+ LIF on the edge. BottleNet++'s unit: conv + BN + sigmoid, quantised to 8 bits, then
transposed conv + BN + ReLU.
"""

from __future__ import annotations

import torch
from torch import nn

from sbn.models.layers import SeqConv2d, SeqConvTranspose2d
from sbn.models.resnet import NeuronFactory, NormFactory, ResNet

QUANT_LEVELS = 255  # BottleNet++ sends 8-bit features


class Quantize8bit(torch.autograd.Function):
    """Round [0, 1] features to 8 bits; straight-through gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x * QUANT_LEVELS) / QUANT_LEVELS

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


class Sigmoid8bit(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return Quantize8bit.apply(torch.sigmoid(x))


class BottleneckUnit(nn.Module):
    def __init__(
        self,
        channels: int,
        reduced: int,
        stride: int,
        kernel_size: int,
        encoder_act: nn.Module,
        decoder_act: nn.Module,
        norm: NormFactory,
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.enc_conv = SeqConv2d(channels, reduced, kernel_size, stride, pad, bias=False)
        self.enc_bn = norm(reduced)
        self.enc_act = encoder_act
        # output_padding = s - 1 restores exactly H from H / s for an odd kernel
        self.dec_conv = SeqConvTranspose2d(
            reduced, channels, kernel_size, stride, pad, output_padding=stride - 1, bias=False
        )
        self.dec_bn = norm(channels)
        self.dec_act = decoder_act

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc_act(self.enc_bn(self.enc_conv(x)))

    def decode(self, payload: torch.Tensor) -> torch.Tensor:
        return self.dec_act(self.dec_bn(self.dec_conv(payload)))


class SplitModel(nn.Module):
    """A ResNet with a bottleneck after RB ``split``: ``device`` runs stem..RBk + encoder,
    ``edge`` runs decoder + RB(k+1).. + head. ``forward`` does both."""

    def __init__(self, backbone: ResNet, unit: BottleneckUnit, split: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.bottleneck = unit
        self.split = split
        self.config = backbone.config

    def device(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> payload (T, B, C', H', W'): what crosses the network."""
        x = self.backbone.stem(self.backbone.encode_input(images))
        x = self.backbone.run_blocks(x, 0, self.split)
        return self.bottleneck.encode(x)

    def edge(self, payload: torch.Tensor) -> torch.Tensor:
        """Payload (T, B, C', H', W') -> logits (B, classes)."""
        x = self.bottleneck.decode(payload)
        x = self.backbone.run_blocks(x, self.split, len(self.backbone.blocks))
        return self.backbone.head(x)

    def forward(self, images: torch.Tensor, return_payload: bool = False):
        payload = self.device(images)
        logits = self.edge(payload)
        return (logits, payload) if return_payload else logits


def make_unit(
    channels: int,
    reduced: int,
    stride: int,
    kernel_size: int,
    spiking: bool,
    neuron: NeuronFactory,
    norm: NormFactory,
) -> BottleneckUnit:
    if spiking:
        return BottleneckUnit(channels, reduced, stride, kernel_size, neuron(), neuron(), norm)
    return BottleneckUnit(channels, reduced, stride, kernel_size, Sigmoid8bit(), nn.ReLU(), norm)
