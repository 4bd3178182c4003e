"""What ``sbn energy`` prices, from its options: the counted layers' shapes and the firing
rates entering them (measured, read from a file, or one what-if value)."""

from __future__ import annotations

import os
from typing import Any

from sbn.checkpoint import load
from sbn.energy.firing import FiringRates, load_rates, measure_on_dataset
from sbn.energy.macs import LayerTable, config_layer_table, layer_table
from sbn.errors import ConfigError
from sbn.models import ModelConfig

#: images the firing rates are measured on unless told otherwise
DEFAULT_SAMPLES = 32


def shapes_and_rates(
    checkpoint: str | os.PathLike | None,
    *,
    width: float | None = None,
    num_classes: int | None = None,
    time_steps: int | None = None,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    samples: int | None = None,
    batch_size: int = 16,
    seed: int = 0,
    firing_rate: float | None = None,
    rates_file: str | os.PathLike | None = None,
    device: Any = "cpu",
) -> tuple[LayerTable, FiringRates | None, dict]:
    """(layer table, firing rates or None, model description) for ``sbn energy``'s RB1..RB16
    report: shapes from ``checkpoint`` (or a full-width config), rates from ``rates_file``,
    one what-if ``firing_rate``, or measured with the checkpoint on ``samples`` images."""

    if checkpoint is None:
        config = ModelConfig(
            kind="spiking",
            width=1.0 if width is None else width,
            num_classes=100 if num_classes is None else num_classes,
            time_steps=4 if time_steps is None else time_steps,
        )
        model = {"shapes_from": "config", "checkpoint": None}
    else:
        given = [o for o, v in (("--width", width), ("--num-classes", num_classes)) if v is not None]
        if given:
            raise ConfigError(f"{given[0]} comes from the checkpoint; drop it")
        ckpt = load(checkpoint)
        ckpt.require_finite(str(checkpoint))
        config = ckpt.config
        model = {"shapes_from": "checkpoint", "checkpoint": str(checkpoint)}
    spiking = config.kind == "spiking"
    t = config.time_steps if spiking else (4 if time_steps is None else time_steps)
    if checkpoint is not None and spiking and time_steps not in (None, t):
        raise ConfigError(f"--T {time_steps} contradicts the checkpoint's T = {t}")
    model.update(kind=config.kind, width=config.width, num_classes=config.num_classes, time_steps=t)
    if config.bottleneck is not None:
        model["bottleneck_split"] = config.bottleneck.split_name

    if rates_file is not None:
        split = config.bottleneck.split if config.bottleneck is not None else None
        table = config_layer_table(config)
        rates = load_rates(rates_file, num_blocks=config.num_blocks, split=split, time_steps=t)
        if rates.time_steps != t:
            raise ConfigError(
                f"{rates_file}: rates were measured at T = {rates.time_steps}, the model runs T = {t}"
            )
    elif firing_rate is not None:
        table = config_layer_table(config)
        rates = FiringRates.uniform(table, firing_rate, time_steps=t)
    elif checkpoint is not None and spiking:
        net = ckpt.build()
        table = layer_table(net)
        rates = measure_on_dataset(
            net,
            dataset or "digits",
            root=data_dir,
            samples=samples or DEFAULT_SAMPLES,
            batch_size=batch_size,
            seed=seed,
            device=device,
        )
    elif dataset is not None or samples is not None or data_dir is not None:
        raise ConfigError(
            "the checkpoint holds the real-valued baseline: it has no firing "
            "rates to measure (use --firing-rate for a what-if)"
        )
    else:
        table, rates = config_layer_table(config), None
    return table, rates, model
