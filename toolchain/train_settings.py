"""What decides a training run besides the model: ``TrainSettings``, and one epoch's figures.

Both are plain data a checkpoint stores as JSON (``sbn.train_state`` reads them back).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sbn.errors import ConfigError
from sbn.train_precision import PRECISIONS

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides the run besides the model config."""

    dataset: str = "digits"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    seed: int = 0
    augment: bool = False
    train_samples: int | None = None  # a prefix of the training set (None: all of it)
    test_samples: int | None = None
    #: quantisation-aware fine-tune for this target's fixed point (``sbn.qat``); None: float
    quantize: str | None = None
    #: arithmetic of the training step (sbn.train_precision); evaluation is always fp32
    precision: str = "fp32"
    #: bit errors on the payload while training (``sbn.train_channel``): bsc:P; None: clean
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight decay must be >= 0, got {self.weight_decay}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.quantize is not None and self.precision != "fp32":
            raise ConfigError(  # the rounding it emulates is exact only in fp32 arithmetic
                f"--quantize emulates the chip's rounding in fp32; drop --precision {self.precision}"
            )
        if self.channel is not None:
            from sbn.train_channel import bit_error_rate

            bit_error_rate(self.channel)  # a bad or unsupported spec: refused here
        for name in ("train_samples", "test_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be >= 1, got {value}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSettings:
        return cls(**d)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float
