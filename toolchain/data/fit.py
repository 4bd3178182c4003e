"""Whether a dataset fits a model: its images the model's input, its classes the model's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sbn.errors import ConfigError

if TYPE_CHECKING:
    from sbn.models import ModelConfig


def check_fits(
    config: ModelConfig,
    dataset: str,
    image_shape: Sequence[int],
    num_classes: int | None = None,
    *,
    model: str = "the model",
) -> None:
    """ConfigError unless images of ``image_shape`` (C, H, W) are ``config``'s input and,
    where ``num_classes`` is given, ``dataset`` has as many classes as the model; ``model``
    names the model in the message (e.g. "the backbone")."""
    shape = tuple(image_shape)
    if shape != config.input_shape:
        raise ConfigError(
            f"{dataset} images are {_dims(shape)} but {model} expects {_dims(config.input_shape)}"
        )
    if num_classes is not None and num_classes != config.num_classes:
        raise ConfigError(f"{dataset} has {num_classes} classes but {model} has {config.num_classes}")


def _dims(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))
