"""Plain-data descriptions of the models; every checkpoint stores one as JSON.

A config is enough to rebuild a model (``sbn.models.build_model``), and enough for the
exporter, the bit accounting and the energy model to read shapes without running anything.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sbn.errors import ConfigError
from sbn.fileio import is_int_or_float
from sbn.models.neurons import LIFParameters

#: The two network families: "spiking" (SpikeBottleNet and its backbone) and "ann"
#: (BottleNet++ and its ReLU/BN backbone, the conventional baseline).
KINDS = ("spiking", "ann")
RESNET50_LAYERS = (3, 4, 6, 3)
BASE_WIDTHS = (64, 128, 256, 512)  # bottleneck planes per stage at width 1.0
EXPANSION = 4

#: Upper bounds of what a config may ask for: a file's metadata is read before any shape
#: check, and ``num_classes = 1e12`` must be refused, not allocated (a petabyte FC layer).
#: Each is far above any model this toolchain trains (CIFAR-100: 100 classes, width 1).
LIMITS = {
    "num_classes": 100_000,
    "blocks_per_stage": 64,
    "in_channels": 64,
    "image_size": 1024,
    "channels": 65_536,
    "stride": 1024,
    "kernel_size": 31,
}
MAX_WIDTH = 16.0
#: weights a model may have (8 GiB of float32): checked before anything is allocated
MAX_PARAMETERS = 2**31


def _check_whole(what: str, value: Any, low: int, high: int) -> None:
    """ConfigError unless ``value`` is an int in ``low..high`` (bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ConfigError(f"{what} must be a whole number in {low}..{high:,}, got {value!r}")


@dataclass(frozen=True)
class BottleneckConfig:
    """The learned bottleneck inserted after residual block ``split`` (1-based, RB1..RBn).

    channels: C', the encoder's output channels; stride: s, the spatial reduction;
    kernel_size: odd kernel of the encoder conv and decoder transposed conv.
    """

    split: int
    channels: int
    stride: int = 1
    kernel_size: int = 3

    def __post_init__(self) -> None:
        _check_whole("split", self.split, 1, LIMITS["blocks_per_stage"] * 4)
        for name in ("channels", "stride", "kernel_size"):
            _check_whole(f"bottleneck {name}", getattr(self, name), 1, LIMITS[name])
        if self.split < 1:
            raise ConfigError(f"split must be RB1 or later, got {split_label(self.split)}")
        if self.channels < 1:
            raise ConfigError(f"bottleneck channels C' must be >= 1, got {self.channels}")
        if self.stride < 1:
            raise ConfigError(f"bottleneck stride s must be >= 1, got {self.stride}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"bottleneck kernel size must be odd, got {self.kernel_size}")

    @property
    def split_name(self) -> str:
        return split_label(self.split)


@dataclass(frozen=True)
class ModelConfig:
    """A spiking or real-valued CIFAR ResNet50 (optionally reduced), with or without bottleneck.

    width scales every channel count (1.0 is the paper's ResNet50); layers are the blocks per
    stage ([3, 4, 6, 3] gives RB1..RB16). time_steps is T (the ANN always runs T = 1).
    """

    kind: str = "spiking"
    num_classes: int = 100
    width: float = 1.0
    layers: tuple[int, ...] = RESNET50_LAYERS
    in_channels: int = 3
    image_size: int = 32
    time_steps: int = 4
    lif: LIFParameters = field(default_factory=LIFParameters)
    bottleneck: BottleneckConfig | None = None
    #: a norm on the pooled features before the FC (folded into it at export; see
    #: ``ResNet.head``); None: on for the spiking net, off for the real-valued baseline
    head_norm: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"model kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        _check_whole("num_classes", self.num_classes, 2, LIMITS["num_classes"])
        if not is_int_or_float(self.width) or not 0 < self.width <= MAX_WIDTH:
            raise ConfigError(f"width multiplier must be in (0, {MAX_WIDTH:g}], got {self.width!r}")
        if len(self.layers) != 4:
            raise ConfigError(f"layers must be four positive block counts, got {list(self.layers)}")
        for n in self.layers:
            _check_whole("blocks per stage (layers)", n, 1, LIMITS["blocks_per_stage"])
        _check_whole("in_channels", self.in_channels, 1, LIMITS["in_channels"])
        _check_whole("image size", self.image_size, 8, LIMITS["image_size"])
        if isinstance(self.time_steps, bool) or not isinstance(self.time_steps, numbers.Integral):
            raise ConfigError(f"T must be a whole number, got {self.time_steps!r}")
        if self.image_size < 8 or self.image_size % 8:
            raise ConfigError(f"image size must be a multiple of 8, got {self.image_size}")
        if self.kind == "spiking" and not 1 <= self.time_steps <= 8:
            raise ConfigError(f"T must be in 1..8, got {self.time_steps}")
        weights = self.approx_parameters
        if weights > MAX_PARAMETERS:
            raise ConfigError(
                f"this model would have about {weights:,} weights, more than the "
                f"{MAX_PARAMETERS:,} this toolchain builds (width {self.width}, "
                f"layers {list(self.layers)}, {self.num_classes} classes)"
            )
        if self.kind == "ann" and self.time_steps != 1:
            object.__setattr__(self, "time_steps", 1)
        if self.head_norm is None:
            object.__setattr__(self, "head_norm", self.kind == "spiking")
        if self.bottleneck is not None:
            self._check_bottleneck(self.bottleneck)

    def _check_bottleneck(self, b: BottleneckConfig) -> None:
        if b.split > self.num_blocks:
            raise ConfigError(
                f"split {split_label(b.split)} does not exist: valid splits are RB1..{split_label(self.num_blocks)}"
            )
        _, h, w = self.block_shape(b.split)
        if h % b.stride or w % b.stride:
            raise ConfigError(
                f"stride {b.stride} does not divide the {h}x{w} map after {split_label(b.split)}"
            )

    # ---- shapes, read from the config alone -------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input image."""
        return (self.in_channels, self.image_size, self.image_size)

    @property
    def num_blocks(self) -> int:
        return sum(self.layers)

    @property
    def stem_channels(self) -> int:
        return scaled(BASE_WIDTHS[0], self.width)

    def stage_planes(self, stage: int) -> int:
        return scaled(BASE_WIDTHS[stage], self.width)

    def block_stage(self, block: int) -> int:
        """The stage (0..3) of residual block ``block`` (1-based)."""
        if not 1 <= block <= self.num_blocks:
            raise ConfigError(
                f"{split_label(block)} does not exist: valid are RB1..{split_label(self.num_blocks)}"
            )
        total = 0
        for stage, n in enumerate(self.layers):
            total += n
            if block <= total:
                return stage
        raise AssertionError("unreachable")

    def block_shape(self, block: int) -> tuple[int, int, int]:
        """Output (C, H, W) of residual block ``block`` (1-based) for one time step."""
        stage = self.block_stage(block)
        side = self.image_size // (2**stage)
        return (self.stage_planes(stage) * EXPANSION, side, side)

    @property
    def approx_parameters(self) -> int:
        """Weights of the backbone, about: 17 p^2 per bottleneck block of p planes (1x1 from
        4p, 3x3, 1x1 to 4p) plus the classifier; known before anything is allocated."""
        blocks = sum(n * 17 * self.stage_planes(s) ** 2 for s, n in enumerate(self.layers))
        return blocks + self.feature_channels * self.num_classes

    @property
    def feature_channels(self) -> int:
        return self.stage_planes(3) * EXPANSION

    def with_bottleneck(self, bottleneck: BottleneckConfig | None) -> ModelConfig:
        return replace(self, bottleneck=bottleneck)

    @property
    def arch(self) -> str:
        if self.kind == "spiking":
            return "spikebottlenet" if self.bottleneck else "spiking_resnet50"
        return "bottlenet++" if self.bottleneck else "resnet50"

    # ---- (de)serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        try:
            d = dict(d)
            d["layers"] = tuple(d["layers"])
            d["lif"] = LIFParameters(**d["lif"])
            d.setdefault("head_norm", False)  # written before the head norm existed
            if d.get("bottleneck") is not None:
                d["bottleneck"] = BottleneckConfig(**d["bottleneck"])
            return cls(**d)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"malformed model config: {exc}") from None


def scaled(channels: int, width: float) -> int:
    """Channel count at width multiplier ``width`` (at least 1)."""
    return max(1, int(round(channels * width)))


def split_label(block: int) -> str:
    """The one way a split point is displayed: block 7 -> "RB7" (kept an int until then)."""
    return f"RB{int(block)}"


def parse_split(name: str | int, num_blocks: int = 16) -> int:
    """'RB7', 'rb7' or 7 -> 7, checked against the number of blocks."""
    text = str(name).strip().upper()
    digits = text[2:] if text.startswith("RB") else text
    if not digits.isdigit() or not 1 <= int(digits) <= num_blocks:
        raise ConfigError(f"unknown split {name!r}: valid splits are RB1..{split_label(num_blocks)}")
    return int(digits)
