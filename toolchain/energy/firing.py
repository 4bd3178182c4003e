"""Firing rates of the spike trains entering the counted layers.

    fr_l = total spikes entering layer l / (T * number of input neurons * samples)

``FiringRateProbe`` owns forward pre-hooks (removable handles) on the counted
convolutions and counts the spikes they receive; ``measure_firing_rates`` runs a model
over a tensor of images with the probe attached. Rates measured elsewhere (a Lava run, a
what-if value) enter through ``FiringRates.from_mapping`` / ``FiringRates.uniform`` or a
rates file (``save_rates`` / ``load_rates``): the energy arithmetic never cares where
they came from.

Rates files are ``sbn.graph.rates`` files: keyed by NIR node name (``rb3.conv1``: the rate
entering that convolution; ``rb3.lif1``: the rate that neuron node emits, i.e. the rate
entering ``rb3.conv2``). ``FiringRates`` itself keys by counted layer (``blocks.2.conv1``);
``node_name`` / ``layer_rates`` translate between the two.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
from torch import nn

from sbn.energy.macs import COUNTED_CONVS, LayerTable, backbone_of, counted_convs
from sbn.errors import ConfigError
from sbn.fileio import check_version, write_json
from sbn.graph.rates import RATES_SCHEMA, RatesFile, parse_rates, rates_dict, read_rates

log = logging.getLogger(__name__)

_LAYER = re.compile(r"^blocks\.(\d+)\.(conv[123])$")
_NEURON = re.compile(r"^rb(\d+)\.lif([123])$")
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

    def check_covers(self, table: LayerTable) -> int:
        """The last block k such that every layer of RB1..RBk has a rate; raise if that is no
        block at all, if a layer inside that prefix lacks one, or for a rate of a layer the
        model does not have. Rates measured on a device graph (``sbn sim --target``) cover the
        blocks up to its split only: the energy is then reported for the splits up to k."""
        missing = [n for n in table.names if n not in self.rates]
        unknown = sorted(set(self.rates) - set(table.names))
        first_gap = min((layer.block for layer in table.layers if layer.name in missing), default=None)
        covered = table.num_blocks if first_gap is None else first_gap - 1
        later = [la.name for la in table.layers if la.block > covered and la.name not in missing]
        if missing and (covered < 1 or later):  # nothing covered, or a gap between rates
            raise ConfigError(
                f"firing rates ({self.source}) miss {len(missing)} counted layers, e.g. {missing[0]}"
            )
        if unknown:
            raise ConfigError(
                f"firing rates ({self.source}) name layers the model does not have, e.g. {unknown[0]}"
            )
        return covered

    @classmethod
    def uniform(cls, table: LayerTable, rate: float, time_steps: int | None = None) -> FiringRates:
        """The what-if case: every counted layer receives spikes at ``rate``."""
        return cls(
            rates={name: rate for name in table.names},
            time_steps=time_steps or table.time_steps,
            source=f"uniform {rate:g}",
        )

    @classmethod
    def from_mapping(
        cls, rates: Mapping[str, float], time_steps: int, source: str = "external"
    ) -> FiringRates:
        """Rates measured elsewhere, keyed ``blocks.0.conv1``, ``backbone.blocks.0.conv1``
        or ``RB1.conv1``."""
        return cls(rates=dict(rates), time_steps=time_steps, source=source)

    def to_dict(self) -> dict:
        """The ``sbn.firing-rates/1`` object, keyed by NIR node name (``rb1.conv1``)."""
        return rates_dict(
            {node_name(k): v for k, v in self.rates.items()},
            time_steps=self.time_steps,
            source=self.source,
            samples=self.samples,
            extra=self.extra,
        )

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "firing rates") -> FiringRates:
        """Rates from an ``sbn.firing-rates/1`` object (keys: ``rbK.convN`` node names or
        the older module paths); the object must state ``time_steps``."""
        check_version(dict(data) if isinstance(data, Mapping) else data, RATES_SCHEMA, where, "firing rates")
        return cls.from_file(parse_rates(data, where), where=where)

    @classmethod
    def from_file(
        cls,
        data: RatesFile,
        *,
        num_blocks: int | None = None,
        split: int | None = None,
        time_steps: int | None = None,
        where: str = "firing rates",
    ) -> FiringRates:
        """Rates read by ``sbn.graph.rates.read_rates``, rekeyed by counted layer with
        ``layer_rates`` (neuron-node keys need ``num_blocks``). The file's T wins over
        ``time_steps``; one of them must be known."""
        t = data.time_steps if data.time_steps is not None else time_steps
        if t is None:
            raise ConfigError(f"{where}: the rates file does not state time_steps (T)")
        return cls(
            rates=layer_rates(data.rates, num_blocks, split, where=where),
            time_steps=t,
            source=data.source,
            samples=data.samples,
            extra=data.extra,
        )


def node_name(layer: str) -> str:
    """``blocks.2.conv1`` (or ``RB3.conv1`` ...) -> ``rb3.conv1``: the NIR node the exporter
    makes of that convolution."""
    name = canonical_layer_name(layer)
    match = _LAYER.match(name)
    if not match:
        raise ConfigError(f"{layer!r} is not a counted layer (blocks.<k>.conv<n>)")
    return f"rb{int(match.group(1)) + 1}.{match.group(2)}"


def layer_rates(
    rates: Mapping[str, float],
    num_blocks: int | None = None,
    split: int | None = None,
    where: str = "firing rates",
) -> dict[str, float]:
    """Rates keyed by NIR node name -> rates keyed by counted layer (``blocks.<k-1>.convN``).

    ``rbK.convN`` (and the older ``blocks.<k-1>.convN`` / ``backbone.`` / ``RBK.convN``) is
    the rate entering that layer. With ``num_blocks`` (and the bottleneck's ``split``, RB
    number) neuron nodes are read too: ``stem.lif`` enters RB1.conv1, ``rbK.lif1`` enters
    RBK.conv2, ``rbK.lif2`` RBK.conv3, ``rbK.lif3`` RB(K+1).conv1 (``decoder.lif`` does after
    the split). Other nodes of the exported graph (input, shortcuts, encoder, head, ...)
    feed no counted layer and are skipped; any other key is an error naming it.
    """
    out: dict[str, float] = {}
    origin: dict[str, str] = {}

    def put(layer: str, key: str, rate: float) -> None:
        if layer in out and abs(out[layer] - float(rate)) > 1e-12:
            raise ConfigError(
                f"{where}: {origin[layer]!r} and {key!r} give the spikes entering "
                f"{node_name(layer)} different rates"
            )
        out.setdefault(layer, float(rate))
        origin.setdefault(layer, key)

    others = {"input", "output", "stem.conv", "head.pool", "head.flatten", "head.fc"}
    if split is not None:
        others |= {"encoder.conv", "encoder.lif", "decoder.conv"}
    for key, rate in rates.items():
        key = str(key)
        layer = canonical_layer_name(key)
        match = _LAYER.match(layer)
        if match and (num_blocks is None or int(match.group(1)) < num_blocks):
            put(layer, key, rate)
            continue
        if num_blocks is None:
            raise ConfigError(f"{where}: unknown key {key!r}: expected a counted layer such as rb1.conv1")
        neuron = _NEURON.match(key)
        block = int(neuron.group(1)) if neuron else 0
        if neuron and 1 <= block <= num_blocks:
            n = int(neuron.group(2))
            if n < 3:
                put(f"blocks.{block - 1}.{COUNTED_CONVS[n]}", key, rate)
            elif block < num_blocks and block != split:
                put(f"blocks.{block}.conv1", key, rate)
        elif key == "stem.lif":
            put("blocks.0.conv1", key, rate)
        elif key == "decoder.lif" and split is not None:
            if split < num_blocks:
                put(f"blocks.{split}.conv1", key, rate)
        elif (
            key in others
            or re.fullmatch(r"rb(\d+)\.downsample", key)
            and 1 <= int(key[2:].split(".")[0]) <= num_blocks
        ):
            pass
        else:
            raise ConfigError(
                f"{where}: unknown key {key!r}: not a node of this model's NIR "
                f"graph (expected names such as rb1.conv1, rb1.lif1, stem.lif)"
            )
    return out


def canonical_layer_name(key: str) -> str:
    """``RB3.conv2`` / ``backbone.blocks.2.conv2`` / ``blocks.2.conv2`` -> ``blocks.2.conv2``."""
    key = str(key).strip()
    match = _LABEL.match(key)
    if match:
        return f"blocks.{int(match.group(1)) - 1}.{match.group(2).lower()}"
    return key.removeprefix("backbone.")


def save_rates(path: str | os.PathLike, rates: FiringRates) -> None:
    """Write ``rates`` as an ``sbn.firing-rates/1`` file keyed by NIR node name (atomically)."""
    write_json(path, rates.to_dict())


def load_rates(
    path: str | os.PathLike,
    *,
    num_blocks: int | None = None,
    split: int | None = None,
    time_steps: int | None = None,
) -> FiringRates:
    """Read a rates file (``sbn.graph.rates.read_rates``) as per-layer ``FiringRates``; see
    ``FiringRates.from_file`` for ``num_blocks``, ``split`` and ``time_steps``."""
    return FiringRates.from_file(
        read_rates(path), num_blocks=num_blocks, split=split, time_steps=time_steps, where=str(path)
    )


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

    def attach(self) -> FiringRateProbe:
        if self._handles:
            raise ConfigError("this firing-rate probe is already attached")
        for name, _, conv in self._convs:
            self._handles.append(conv.register_forward_pre_hook(self._counter(name)))
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> FiringRateProbe:
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
    device: torch.device | str | None = None,
) -> FiringRates:
    """Run ``model`` (eval mode, no gradients) over ``images`` ``[N, C, H, W]`` in batches
    and return the input firing rate of every counted layer. The model's mode is restored,
    and so is its device when ``device`` runs it elsewhere for the measurement."""
    if images.dim() != 4 or images.shape[0] == 0:
        raise ConfigError(f"images must be a non-empty [N, C, H, W] tensor, got {tuple(images.shape)}")
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    was_training = model.training
    home = next(model.parameters()).device
    device = home if device is None else torch.device(device)
    model.eval().to(device)
    try:
        with FiringRateProbe(model) as probe, torch.no_grad():
            for start in range(0, images.shape[0], batch_size):
                model(images[start : start + batch_size].to(device))
                log.debug("firing rates: %d/%d samples", probe.samples, images.shape[0])
    finally:
        model.train(was_training).to(home)
    return probe.rates(source=source, extra=extra)


def sample_images(
    dataset: str = "digits",
    *,
    root: str | os.PathLike | None = None,
    samples: int = 32,
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
    model: nn.Module,
    dataset: str = "digits",
    *,
    root: str | os.PathLike | None = None,
    samples: int = 32,
    batch_size: int = 16,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> FiringRates:
    """``measure_firing_rates`` on ``samples`` test images of ``dataset`` (on ``device``)."""
    from sbn.data import check_fits

    images = sample_images(dataset, root=root, samples=samples, seed=seed)
    check_fits(backbone_of(model).config, dataset, images.shape[1:])  # [N, C, H, W]
    return measure_firing_rates(
        model,
        images,
        batch_size=batch_size,
        source=f"pytorch on {dataset}",
        extra={"dataset": dataset, "seed": str(seed)},
        device=device,
    )
