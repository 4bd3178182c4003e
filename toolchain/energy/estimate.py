"""Device energy per split point from (layer table, firing rates, cost presets).

    ANN layer energy  = MACs_l * E_MAC                       (BottleNet++ baseline)
    SNN layer SyOPs   = fr_l * T * MACs_l
    SNN layer energy  = SyOPs_l * E_SyOP                     (E_AC on 45 nm, 77 fJ on ROLLS, ...)
    split RBk energy  = sum over the counted layers of RB1..RBk

This module only does arithmetic: rates come in as a ``FiringRates`` (measured by
``sbn.energy.firing``, read from a Lava run, or a what-if value) or not at all, in which
case the spiking columns are ``None`` (unknown), never zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sbn.energy.firing import FiringRates
from sbn.energy.macs import Layer, LayerTable
from sbn.energy.presets import CostPreset
from sbn.errors import ConfigError
from sbn.models import parse_split, split_label

PJ_TO_MJ = 1e-9


@dataclass(frozen=True)
class LayerEnergy:
    """One counted layer priced on every preset. Spiking fields are None without rates."""

    name: str
    block: int
    macs: int
    in_neurons: int
    ann_mj: float
    firing_rate: float | None = None
    time_steps: int | None = None
    syops: float | None = None
    snn_mj: dict[str, float] | None = None

    @property
    def split(self) -> str:
        return split_label(self.block)

    @property
    def label(self) -> str:
        return f"{split_label(self.block)}.{self.name.rsplit('.', 1)[-1]}"


@dataclass(frozen=True)
class SplitEnergy:
    """Cumulative device energy with the split after RB ``block``; ``layers`` are the
    counted layers of RB1..RBk whose sums these totals are."""

    block: int
    macs: int
    ann_mj: float
    layers: tuple[LayerEnergy, ...]
    syops: float | None = None
    snn_mj: dict[str, float] | None = None

    @property
    def split(self) -> str:
        return split_label(self.block)

    def ratio(self, preset: str) -> float | None:
        """How many times less energy the spiking model uses than the baseline on
        ``preset``: ann_mj / snn_mj; None without rates or when the SNN spends nothing."""
        if self.snn_mj is None:
            return None
        snn = self.snn_mj[preset]
        return self.ann_mj / snn if snn > 0 else None


@dataclass(frozen=True)
class EnergyReport:
    """Every split point RB1..RBn, the presets they were priced on and the rates used."""

    splits: tuple[SplitEnergy, ...]
    ann_preset: CostPreset
    snn_presets: tuple[CostPreset, ...]
    rates: FiringRates | None = None
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def has_rates(self) -> bool:
        return self.rates is not None

    @property
    def layers(self) -> tuple[LayerEnergy, ...]:
        return self.splits[-1].layers

    @property
    def snn_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.snn_presets)

    def split(self, name: str | int) -> SplitEnergy:
        """The split point ``'RB7'``, ``'rb7'`` or ``7``."""
        block = parse_split(name, len(self.splits))
        return self.splits[block - 1]


def price_layer(
    layer: Layer,
    ann_preset: CostPreset,
    snn_presets: Sequence[CostPreset],
    rates: FiringRates | None,
) -> LayerEnergy:
    ann_mj = layer.macs * ann_preset.e_mac_pj * PJ_TO_MJ
    if rates is None:
        return LayerEnergy(layer.name, layer.block, layer.macs, layer.in_neurons, ann_mj)
    fr = rates.rate(layer.name)
    syops = fr * rates.time_steps * layer.macs
    return LayerEnergy(
        name=layer.name,
        block=layer.block,
        macs=layer.macs,
        in_neurons=layer.in_neurons,
        ann_mj=ann_mj,
        firing_rate=fr,
        time_steps=rates.time_steps,
        syops=syops,
        snn_mj={p.name: syops * p.e_syop_pj * PJ_TO_MJ for p in snn_presets},
    )


def estimate_energy(
    table: LayerTable,
    rates: FiringRates | None,
    snn_presets: Sequence[CostPreset],
    ann_preset: CostPreset,
    model: Mapping[str, Any] | None = None,
) -> EnergyReport:
    """Price every counted layer and sum them per split point RB1..RBn.

    ``rates`` None reports the baseline alone (the spiking columns are None).
    """
    if not ann_preset.prices_macs:
        raise ConfigError(f"preset {ann_preset.name!r} has no MAC energy to price the baseline")
    for p in snn_presets:
        if not p.prices_syops:
            raise ConfigError(f"preset {p.name!r} has no SyOP energy to price the spiking model")
    names = [p.name for p in snn_presets]
    if len(set(names)) != len(names):
        raise ConfigError(f"a preset is listed twice: {', '.join(names)}")
    last = table.num_blocks if rates is None else rates.check_covers(table)
    priced = [
        price_layer(layer, ann_preset, snn_presets, rates) for layer in table.layers if layer.block <= last
    ]
    splits = []
    for block in range(1, last + 1):
        layers = tuple(le for le in priced if le.block <= block)
        splits.append(
            SplitEnergy(
                block=block,
                macs=sum(le.macs for le in layers),
                ann_mj=sum(le.ann_mj for le in layers),
                layers=layers,
                syops=None if rates is None else sum(le.syops for le in layers),
                snn_mj=None if rates is None else {n: sum(le.snn_mj[n] for le in layers) for n in names},
            )
        )
    return EnergyReport(
        splits=tuple(splits),
        ann_preset=ann_preset,
        snn_presets=tuple(snn_presets),
        rates=rates,
        model=dict(model or {}),
    )
