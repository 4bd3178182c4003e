"""Which model each step of the method trains, from the options of ``sbn train``.

Step 1 builds a new backbone; step 2 (``--from`` a backbone with ``--split`` and
``--channels``) inserts a bottleneck into it; step 3 (``--quantize`` with ``--from`` a
SpikeBottleNet) fine-tunes that whole model for a target's fixed point. An option that the
checkpoint decides is refused, not silently ignored.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sbn import checkpoint as ckpt_io
from sbn.data import class_count
from sbn.errors import ConfigError
from sbn.models import BottleneckConfig, LIFParameters, ModelConfig, parse_split

#: what step 1 builds where an option is not given
DEFAULT_WIDTH = 0.0625
DEFAULT_LAYERS = (3, 4, 6, 3)
DEFAULT_TIME_STEPS = 4


def model_to_train(
    *,
    dataset: str,
    start_from: str | Path | None = None,
    quantize: str | None = None,
    split: str | None = None,
    channels: int | None = None,
    stride: int = 1,
    kernel_size: int = 3,
    kind: str = "spiking",
    width: float | None = None,
    layers: tuple[int, ...] | None = None,
    surrogate_width: float | None = None,
    time_steps: int | None = None,
    channel: str | None = None,
) -> tuple[ModelConfig, ckpt_io.Checkpoint | None]:
    """The config a run trains and the checkpoint it starts from (None in step 1), or a
    ConfigError naming the option that does not fit the step. None: an option not given;
    ``start_from`` is ``--from``, ``channel`` the payload's noise (``--channel``)."""
    backbone_options = (("--width", width), ("--layers", layers), ("--surrogate-width", surrogate_width))
    if quantize is not None:
        decided = (
            ("--split", split),
            ("--channels", channels),
            *backbone_options,
            ("--T/--time-steps", time_steps),
        )
        config, start = _quantized(quantize, start_from, decided)
    elif start_from is not None:
        if split is None or channels is None:
            raise ConfigError("--from (step 2) needs --split RBk and --channels C'")
        _refuse_given(backbone_options, "comes from the backbone in step 2; drop it")
        if kind != "spiking":
            raise ConfigError("--kind comes from the backbone in step 2; drop it")
        start = ckpt_io.load(start_from)
        bottleneck = BottleneckConfig(
            split=parse_split(split, start.config.num_blocks),
            channels=channels,
            stride=stride,
            kernel_size=kernel_size,
        )
        config = finetune_config(start.config, bottleneck, time_steps)
    else:
        if split is not None or channels is not None:
            raise ConfigError("--split/--channels fine-tune a bottleneck: they need --from BACKBONE")
        config, start = _backbone(dataset, kind, width, layers, surrogate_width, time_steps), None
    if channel is not None and (config.bottleneck is None or config.kind != "spiking"):
        raise ConfigError(
            "--channel trains through bit errors on a SpikeBottleNet's spikes: give "
            "--from BACKBONE --split RBk --channels C'"
        )
    return config, start


def finetune_config(
    backbone: ModelConfig, bottleneck: BottleneckConfig, time_steps: int | None
) -> ModelConfig:
    """The SpikeBottleNet (or BottleNet++) config that step 2 trains from ``backbone``."""
    if backbone.bottleneck is not None:
        raise ConfigError(
            f"--from must be a backbone checkpoint; this one already has a bottleneck at "
            f"{backbone.bottleneck.split_name}"
        )
    config = backbone.with_bottleneck(bottleneck)
    if time_steps is not None and config.kind == "spiking":
        config = replace(config, time_steps=time_steps)
    return config


def _quantized(
    target: str, start_from: str | Path | None, decided: tuple[tuple[str, object], ...]
) -> tuple[ModelConfig, ckpt_io.Checkpoint]:
    """Step 3: the SpikeBottleNet of ``start_from`` as it is; ``decided`` are the options
    (name, value given) that its config decides."""
    from sbn.targets import resolve_target
    from sbn.targets.quantize import require_format

    require_format(resolve_target(target))
    if start_from is None:
        raise ConfigError("--quantize fine-tunes a trained SpikeBottleNet: give it with --from")
    _refuse_given(decided, "comes from the checkpoint given to --from with --quantize; drop it")
    start = ckpt_io.load(start_from)
    config = start.config
    if config.bottleneck is None or config.kind != "spiking":
        raise ConfigError(
            f"--quantize needs a spiking SpikeBottleNet checkpoint (with a split); "
            f"{start_from} is a {config.arch}"
        )
    return config, start


def _refuse_given(options: tuple[tuple[str, object], ...], reason: str) -> None:
    """ConfigError "NAME REASON" for the first option (name, value) that was given."""
    for name, given in options:
        if given is not None:
            raise ConfigError(f"{name} {reason}")


def _backbone(
    dataset: str,
    kind: str,
    width: float | None,
    layers: tuple[int, ...] | None,
    surrogate_width: float | None,
    time_steps: int | None,
) -> ModelConfig:
    """Step 1: a new backbone with a head for ``dataset``'s classes."""
    return ModelConfig(
        kind=kind,
        num_classes=class_count(dataset),
        width=DEFAULT_WIDTH if width is None else width,
        layers=layers or DEFAULT_LAYERS,
        time_steps=DEFAULT_TIME_STEPS if time_steps is None else time_steps,
        lif=LIFParameters() if surrogate_width is None else LIFParameters(surrogate_width=surrogate_width),
    )
