"""Firing rates of the spike trains entering the counted layers.

    fr_l = total spikes entering layer l / (T * number of input neurons * samples)

``FiringRateProbe`` owns forward pre-hooks (removable handles) on the counted
convolutions and counts the spikes they receive; ``measure_firing_rates`` runs a model
over a tensor of images with the probe attached. Rates measured elsewhere (a Lava run, a
what-if value) enter through ``FiringRates.from_mapping`` / ``FiringRates.uniform`` or a
rates file (``save_rates`` / ``load_rates``): the energy arithmetic never cares where
they came from.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import torch
from torch import nn

from sbn import __version__
from sbn.errors import ConfigError
from sbn.energy.macs import LayerTable, backbone_of, counted_convs
from sbn.fileio import write_json

log = logging.getLogger(__name__)

RATES_SCHEMA = "sbn.firing-rates/1"
_LABEL = re.compile(r"^RB(\d+)\.(conv\d)$", re.IGNORECASE)


@dataclass(frozen=True)
class FiringRates:
    """Input firing rate per counted layer (keyed by ``Layer.name``), with the T they were
    measured at and where they came from (``source``, ``samples`` for measured rates)."""

    rates: Mapping[str, float]
    time_steps: int
    source: str
    samples: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rates = {canonical_layer_name(k): float(v) for k, v in self.rates.items()}
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"firing rate of {name} must lie in [0, 1], got {rate}")
        if self.time_steps < 1:
            raise ConfigError(f"T must be >= 1, got {self.time_steps}")
        object.__setattr__(self, "rates", MappingProxyType(rates))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def rate(self, name: str) -> float:
        try:
            return self.rates[name]
        except KeyError:
            raise ConfigError(f"no firing rate for layer {name}") from None

    def check_covers(self, table: LayerTable) -> None:
        """Raise unless there is a rate for every layer of ``table`` and nothing else."""
        missing = [n for n in table.names if n not in self.rates]
        unknown = sorted(set(self.rates) - set(table.names))
        if missing:
            raise ConfigError(
                f"firing rates ({self.source}) miss {len(missing)} counted layers, "
                f"e.g. {missing[0]}"
            )
        if unknown:
            raise ConfigError(
                f"firing rates ({self.source}) name layers the model does not have, "
                f"e.g. {unknown[0]}"
            )

    @classmethod
    def uniform(
        cls, table: LayerTable, rate: float, time_steps: int | None = None
    ) -> "FiringRates":
        """The what-if case: every counted layer receives spikes at ``rate``."""
        return cls(
            rates={name: rate for name in table.names},
            time_steps=time_steps or table.time_steps,
            source=f"uniform {rate:g}",
        )

    @classmethod
    def from_mapping(
        cls, rates: Mapping[str, float], time_steps: int, source: str = "external"
    ) -> "FiringRates":
        """Rates measured elsewhere, keyed ``blocks.0.conv1``, ``backbone.blocks.0.conv1``
        or ``RB1.conv1``."""
        return cls(rates=dict(rates), time_steps=time_steps, source=source)

    def to_dict(self) -> dict:
        return {
            "schema": RATES_SCHEMA,
            "producer": f"sbn {__version__}",
            "source": self.source,
            "samples": self.samples,
            "time_steps": self.time_steps,
            "extra": dict(self.extra),
            "rates": dict(self.rates),
        }

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "firing rates") -> "FiringRates":
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a JSON object")
        if data.get("schema") != RATES_SCHEMA:
            raise ConfigError(
                f"{where}: schema {data.get('schema')!r} is not supported "
                f"(this sbn reads {RATES_SCHEMA!r})"
            )
        try:
            return cls(
                rates=dict(data["rates"]),
                time_steps=int(data["time_steps"]),
                source=str(data.get("source", "file")),
                samples=data.get("samples"),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed firing-rate file ({exc})") from None


def canonical_layer_name(key: str) -> str:
    """``RB3.conv2`` / ``backbone.blocks.2.conv2`` / ``blocks.2.conv2`` -> ``blocks.2.conv2``."""
    key = str(key).strip()
    match = _LABEL.match(key)
    if match:
        return f"blocks.{int(match.group(1)) - 1}.{match.group(2).lower()}"
    return key.removeprefix("backbone.")


def save_rates(path: str | os.PathLike, rates: FiringRates) -> None:
    write_json(path, rates.to_dict())


def load_rates(path: str | os.PathLike) -> FiringRates:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read firing rates ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return FiringRates.from_dict(data, where=str(path))


class FiringRateProbe:
    """Counts the spikes entering every counted convolution of ``model``.

    The probe owns its forward pre-hooks; use it as a context manager (or call
    ``attach``/``detach``) so that the hooks never outlive the measurement. Inputs must
    be binary spike trains ``[T, B, C, H, W]``; anything else is a ConfigError (the
    real-valued baseline has no firing rates).
    """

    def __init__(self, model: nn.Module) -> None:
        self.backbone = backbone_of(model)
        self._convs = counted_convs(self.backbone)
        self._spikes = {name: 0.0 for name, _, _ in self._convs}
        self._slots = {name: 0 for name, _, _ in self._convs}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self.time_steps: int | None = None
        self.samples = 0

    def attach(self) -> "FiringRateProbe":
        if self._handles:
            raise ConfigError("this firing-rate probe is already attached")
        for name, _, conv in self._convs:
            self._handles.append(conv.register_forward_pre_hook(self._counter(name)))
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> "FiringRateProbe":
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def _counter(self, name: str):
        def hook(module: nn.Module, inputs: tuple) -> None:
            x = inputs[0].detach()  # (T, B, C, H, W)
            if not bool(((x == 0) | (x == 1)).all()):
                raise ConfigError(
                    f"layer {name} receives non-binary values: firing rates are defined "
                    "for spike trains only (is this the real-valued baseline?)"
                )
            self._spikes[name] += float(x.sum(dtype=torch.float64))
            self._slots[name] += x.numel()
            if name == self._convs[0][0]:
                self.samples += x.shape[1]
                self.time_steps = x.shape[0]

        return hook

    def rates(self, source: str = "pytorch", extra: Mapping[str, str] | None = None) -> FiringRates:
        if not self.samples or self.time_steps is None:
            raise ConfigError("the firing-rate probe has seen no samples")
        return FiringRates(
            rates={name: self._spikes[name] / self._slots[name] for name in self._spikes},
            time_steps=self.time_steps,
            source=source,
            samples=self.samples,
            extra=extra or {},
        )


def measure_firing_rates(
    model: nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 16,
    source: str = "pytorch",
    extra: Mapping[str, str] | None = None,
) -> FiringRates:
    """Run ``model`` (eval mode, no gradients) over ``images`` ``[N, C, H, W]`` in batches
    and return the input firing rate of every counted layer. The model's mode is restored."""
    if images.dim() != 4 or images.shape[0] == 0:
        raise ConfigError(
            f"images must be a non-empty [N, C, H, W] tensor, got {tuple(images.shape)}"
        )
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    try:
        with FiringRateProbe(model) as probe, torch.no_grad():
            for start in range(0, images.shape[0], batch_size):
                model(images[start:start + batch_size])
                log.debug("firing rates: %d/%d samples", probe.samples, images.shape[0])
    finally:
        model.train(was_training)
    return probe.rates(source=source, extra=extra)


def sample_images(
    dataset: str = "digits", *, root: str | os.PathLike | None = None, samples: int = 32,
    seed: int = 0,
) -> torch.Tensor:
    """``samples`` test images of ``dataset`` (``sbn.data``), drawn without replacement
    with a seeded generator: the same call gives the same images."""
    if samples < 1:
        raise ConfigError(f"--samples must be >= 1, got {samples}")
    from sbn.data import load_dataset  # imported here: only measurements need datasets

    data = load_dataset(dataset, root=root, train=False)
    n = data.images.shape[0]
    if samples > n:
        log.warning("%s has %d test images; measuring on all of them", dataset, n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return data.images[order[:samples]]


def measure_on_dataset(
    model: nn.Module, dataset: str = "digits", *, root: str | os.PathLike | None = None,
    samples: int = 32, batch_size: int = 16, seed: int = 0,
) -> FiringRates:
    """``measure_firing_rates`` on ``samples`` test images of ``dataset``."""
    images = sample_images(dataset, root=root, samples=samples, seed=seed)
    config = backbone_of(model).config
    expected = (config.in_channels, config.image_size, config.image_size)
    if tuple(images.shape[1:]) != expected:
        raise ConfigError(
            f"{dataset} images are {tuple(images.shape[1:])}, the model expects {expected}"
        )
    return measure_firing_rates(
        model, images, batch_size=batch_size, source=f"pytorch on {dataset}",
        extra={"dataset": dataset, "seed": str(seed)},
    )
