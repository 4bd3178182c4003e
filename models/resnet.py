"""CIFAR ResNet50 built the torchvision way, with the neuron and norm passed in.

The same builder makes the spiking backbone (LIF + tdBN) and the real-valued baseline
(ReLU + BN): both see ``[T, B, C, H, W]`` tensors (the baseline with T = 1), so the two are
identical in topology, which is what the energy and bit comparisons rely on.

Residual blocks are kept flat in ``blocks`` so that ``blocks[k-1]`` is RBk.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from sbn.models.config import EXPANSION, ModelConfig
from sbn.models.layers import conv1x1, conv3x3
from sbn.models.neurons import LIFParameters
from sbn.models.norm import TdBatchNorm

NeuronFactory = Callable[[], nn.Module]
NormFactory = Callable[..., nn.Module]

#: tdBN's alpha for the two norms whose outputs are summed at a residual join (Zheng et
#: al., 2021): keeps the pre-activation variance at V_th^2 after the sum.
RESIDUAL_ALPHA = 1.0 / math.sqrt(2.0)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand x4, each CONV-norm-neuron; the
    last neuron fires on the sum with the (possibly projected) shortcut."""

    expansion = EXPANSION

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        neuron: NeuronFactory,
        norm: NormFactory,
    ) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = norm(planes)
        self.sn1 = neuron()
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = norm(planes)
        self.sn2 = neuron()
        self.conv3 = conv1x1(planes, out)
        self.bn3 = norm(out, alpha=RESIDUAL_ALPHA)
        self.sn3 = neuron()
        self.downsample: nn.Sequential | None = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(conv1x1(inplanes, out, stride), norm(out, alpha=RESIDUAL_ALPHA))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.sn1(self.bn1(self.conv1(x)))
        y = self.sn2(self.bn2(self.conv2(y)))
        return self.sn3(self.bn3(self.conv3(y)) + identity)


class ResNet(nn.Module):
    """Stem (3x3 conv, no max-pool) -> RB1..RBn -> mean over T, H, W -> (norm) -> FC."""

    def __init__(self, config: ModelConfig, neuron: NeuronFactory, norm: NormFactory) -> None:
        super().__init__()
        self.config = config
        stem = config.stem_channels
        self.stem = nn.Sequential(conv3x3(config.in_channels, stem), norm(stem), neuron())
        blocks: list[nn.Module] = []
        inplanes = stem
        for stage, count in enumerate(config.layers):
            planes = config.stage_planes(stage)
            stride = 1 if stage == 0 else 2
            layer = _make_layer(inplanes, planes, count, stride, neuron, norm)
            blocks.extend(layer)
            inplanes = planes * Bottleneck.expansion
        self.blocks = nn.ModuleList(blocks)
        # plain BN (alpha * V_th = 1) over the pooled features; see head()
        self.head_norm = TdBatchNorm(inplanes) if config.head_norm else None
        self.fc = nn.Linear(inplanes, config.num_classes)
        _init_weights(self)
        if config.kind == "spiking":
            _identity_blocks(self, config.lif)

    def encode_input(self, images: torch.Tensor) -> torch.Tensor:
        """Direct encoding: the image is presented unchanged at each of the T steps."""
        # (B, C, H, W) -> (T, B, C, H, W)
        return images.unsqueeze(0).expand(self.config.time_steps, *images.shape)

    def run_blocks(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Run RB(start+1)..RB(stop), i.e. ``blocks[start:stop]``."""
        for block in self.blocks[start:stop]:
            x = block(x)
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(0, 3, 4))  # (T, B, C, H, W) -> (B, C)
        if self.head_norm is not None:
            # Spike rates pooled over T, H, W vary little between images (about 0.14 +- 0.03
            # at init); an FC on them needs weights ~30x larger than usual, which Adam reaches
            # only after hundreds of steps. Standardising them first lets the head learn at
            # once. At inference the norm is affine and folds into the FC (the exporter does),
            # so the deployed head is the method's pooling + one FC.
            pooled = self.head_norm(pooled[None, :, :, None, None])[0, :, :, 0, 0]
        return self.fc(pooled)  # (B, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.encode_input(images))
        return self.head(self.run_blocks(x, 0, len(self.blocks)))


def _make_layer(
    inplanes: int, planes: int, count: int, stride: int, neuron: NeuronFactory, norm: NormFactory
) -> list[Bottleneck]:
    layer = [Bottleneck(inplanes, planes, stride, neuron, norm)]
    for _ in range(1, count):
        layer.append(Bottleneck(planes * Bottleneck.expansion, planes, 1, neuron, norm))
    return layer


def _init_weights(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, TdBatchNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def identity_margin(lif: LIFParameters) -> float:
    """The offset that a fresh block's last norm adds (see ``_identity_blocks``): a spike on
    the shortcut lands at V_th + margin, no spike at ``margin / (1 - k)`` at most, below V_th.
    Zero for an IF neuron (k = 1), whose potential would sum any offset up to V_th."""
    return lif.v_th * min(0.25, (1.0 - lif.decay) / 2.0)


def _identity_blocks(model: ResNet, lif: LIFParameters) -> None:
    """Each block starts as an identity for spikes: its last norm starts at lambda = 0 and
    beta = ``identity_margin``, so the last neuron sees only the shortcut plus the margin
    and re-emits the shortcut's spikes (Goyal et al. 2017 zero-initialise the same norm in
    ReLU ResNets; the margin keeps a spike off the threshold, where the first updates'
    rounding would decide it). Without this the 48 spiking layers of a fresh net scramble
    the input: a linear probe on RB16's pooled spikes scores chance on digits, against 52 %
    with it, and the backbone learns several times faster (docs/training.md)."""
    for block in model.blocks:
        nn.init.zeros_(block.bn3.weight)
        nn.init.constant_(block.bn3.bias, identity_margin(lif))
