"""The layer table: every counted convolution with its real shapes and MAC count.

Counted, exactly as the method says: conv1, conv2 and conv3 inside each residual block
RB1..RBn. Not counted: the stem (it sees real-valued pixels), the downsampling shortcut
convolutions and the bottleneck encoder.

Shapes are never typed in: ``layer_table`` runs one shape pass (a single image, one time
step) through the model with forward hooks on the counted convolutions and reads each
layer's actual input and output shapes; ``config_layer_table`` does the same on a model
built from a config on PyTorch's ``meta`` device, where nothing is computed.

    MACs_l = C_out * H_out * W_out * (C_in / groups) * k_h * k_w     (per sample, per step)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sbn.errors import ConfigError
from sbn.models import ModelConfig, ResNet, SplitModel, build_model, split_label

#: the convolutions of a residual block that the method counts, in execution order
COUNTED_CONVS = ("conv1", "conv2", "conv3")


@dataclass(frozen=True)
class Layer:
    """One counted convolution. ``name`` is its module path in the backbone
    (``blocks.<k-1>.convN``); shapes are (C, H, W) of one sample at one time step."""

    name: str
    block: int
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: tuple[int, int]
    groups: int = 1

    def __post_init__(self) -> None:
        if self.block < 1:
            raise ConfigError(f"layer {self.name}: block must be RB1 or later, got {self.block}")
        if self.in_shape[0] % self.groups:
            raise ConfigError(f"layer {self.name}: {self.groups} groups do not divide C_in")

    @property
    def split(self) -> str:
        return split_label(self.block)

    @property
    def label(self) -> str:
        """``RBk.convN``: the name people use."""
        return f"{split_label(self.block)}.{self.name.rsplit('.', 1)[-1]}"

    @property
    def in_neurons(self) -> int:
        """Neurons whose spike trains enter this layer (per sample, per time step)."""
        c, h, w = self.in_shape
        return c * h * w

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one sample at one time step."""
        c_out, h_out, w_out = self.out_shape
        kh, kw = self.kernel
        return c_out * h_out * w_out * (self.in_shape[0] // self.groups) * kh * kw


@dataclass(frozen=True)
class LayerTable:
    """The counted layers of a ResNet, in execution order, with the model's T."""

    layers: tuple[Layer, ...]
    num_blocks: int
    time_steps: int

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("a layer table needs at least one layer")
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ConfigError("a layer table lists a layer twice")
        if self.time_steps < 1:
            raise ConfigError(f"T must be >= 1, got {self.time_steps}")

    def upto(self, block: int) -> tuple[Layer, ...]:
        """The layers of RB1..RB``block`` (the device side of split point ``block``)."""
        if not 1 <= block <= self.num_blocks:
            raise ConfigError(
                f"split {split_label(block)} does not exist: valid are RB1..{split_label(self.num_blocks)}"
            )
        return tuple(layer for layer in self.layers if layer.block <= block)

    def macs_upto(self, block: int) -> int:
        return sum(layer.macs for layer in self.upto(block))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)


def backbone_of(model: nn.Module) -> ResNet:
    """The ResNet inside ``model`` (itself, or a SplitModel's backbone)."""
    if isinstance(model, SplitModel):
        return model.backbone
    if isinstance(model, ResNet):
        return model
    raise ConfigError(f"the energy model reads sbn ResNets and SplitModels, not {type(model).__name__}")


def counted_convs(backbone: ResNet) -> list[tuple[str, int, nn.Conv2d]]:
    """(name, block, module) of every counted convolution, in execution order."""
    out = []
    for index, block in enumerate(backbone.blocks):
        for attr in COUNTED_CONVS:
            conv = getattr(block, attr, None)
            if not isinstance(conv, nn.Conv2d):
                raise ConfigError(f"{split_label(index + 1)} has no convolution {attr!r} to count")
            out.append((f"blocks.{index}.{attr}", index + 1, conv))
    return out


def layer_table(model: nn.Module) -> LayerTable:
    """The counted layers of ``model`` with the shapes they really see.

    Runs the stem and RB1..RBn once on one blank image at one time step (no gradients,
    eval mode); the model's mode, weights and statistics are left as they were.
    """
    backbone = backbone_of(model)
    config = backbone.config
    convs = counted_convs(backbone)
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def recorder(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            # inputs[0], output: (T, B, C, H, W)
            shapes[name] = (tuple(inputs[0].shape[2:]), tuple(output.shape[2:]))

        return hook

    handles = [conv.register_forward_hook(recorder(name)) for name, _, conv in convs]
    was_training = backbone.training
    backbone.eval()  # a training-mode pass would update the norms' running statistics
    try:
        param = next(backbone.parameters())
        x = torch.zeros(
            1,
            1,
            config.in_channels,
            config.image_size,
            config.image_size,
            device=param.device,
            dtype=param.dtype,
        )  # (T=1, B=1, C, H, W)
        with torch.no_grad():
            backbone.run_blocks(backbone.stem(x), 0, len(backbone.blocks))
    finally:
        backbone.train(was_training)
        for handle in handles:
            handle.remove()
    layers = tuple(
        Layer(
            name=name,
            block=block,
            in_shape=shapes[name][0],
            out_shape=shapes[name][1],
            kernel=tuple(conv.kernel_size),
            groups=conv.groups,
        )
        for name, block, conv in convs
    )
    return LayerTable(layers=layers, num_blocks=len(backbone.blocks), time_steps=config.time_steps)


def config_layer_table(config: ModelConfig) -> LayerTable:
    """The layer table of the model ``config`` describes, without allocating its weights."""
    with torch.device("meta"):
        model = build_model(config.with_bottleneck(None))
    return layer_table(model)
