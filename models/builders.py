"""One-line constructors behind a private factory (the torchvision habit)."""

from __future__ import annotations

from functools import partial

from torch import nn

from sbn.models.bottleneck import SplitModel, make_unit
from sbn.models.config import BottleneckConfig, ModelConfig
from sbn.models.neurons import LIF, LIFParameters, MultiStepReLU
from sbn.models.norm import TdBatchNorm
from sbn.models.resnet import ResNet


def _parts(config: ModelConfig):
    if config.kind == "spiking":
        neuron = partial(LIF, config.lif)
        norm = partial(TdBatchNorm, v_th=config.lif.v_th)
    else:
        neuron = MultiStepReLU
        # plain BN: alpha * V_th = 1 whatever the block asks for
        norm = lambda channels, alpha=1.0: TdBatchNorm(channels)
    return neuron, norm


def build_model(config: ModelConfig) -> nn.Module:
    """A ``ResNet`` (no bottleneck) or a ``SplitModel`` (with one), as ``config`` says."""
    neuron, norm = _parts(config)
    backbone = ResNet(config.with_bottleneck(None), neuron, norm)
    b = config.bottleneck
    if b is None:
        return backbone
    channels = config.block_shape(b.split)[0]
    unit = make_unit(channels, b.channels, b.stride, b.kernel_size, config.kind == "spiking", neuron, norm)
    model = SplitModel(backbone, unit, b.split)
    model.config = config
    return model


def spiking_resnet50(
    num_classes: int = 100,
    time_steps: int = 4,
    width: float = 1.0,
    lif: LIFParameters | None = None,
) -> ResNet:
    return build_model(
        ModelConfig(
            kind="spiking",
            num_classes=num_classes,
            time_steps=time_steps,
            width=width,
            lif=lif or LIFParameters(),
        )
    )


def spikebottlenet(
    split: int,
    channels: int,
    stride: int = 1,
    num_classes: int = 100,
    time_steps: int = 4,
    width: float = 1.0,
    lif: LIFParameters | None = None,
) -> SplitModel:
    return build_model(
        ModelConfig(
            kind="spiking",
            num_classes=num_classes,
            time_steps=time_steps,
            width=width,
            lif=lif or LIFParameters(),
            bottleneck=BottleneckConfig(split, channels, stride),
        )
    )


def resnet50(num_classes: int = 100, width: float = 1.0) -> ResNet:
    return build_model(ModelConfig(kind="ann", num_classes=num_classes, width=width))


def bottlenet_pp(
    split: int, channels: int, stride: int = 1, num_classes: int = 100, width: float = 1.0
) -> SplitModel:
    return build_model(
        ModelConfig(
            kind="ann",
            num_classes=num_classes,
            width=width,
            bottleneck=BottleneckConfig(split, channels, stride),
        )
    )
