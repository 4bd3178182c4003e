"""Cost model of the device side: MAC counts, firing rates, energy presets, energy per
split point, transmitted bits, and their reports.

    table  = layer_table(model)                  # or config_layer_table(config): shapes only
    rates  = measure_firing_rates(model, images)  # or FiringRates.uniform / from_mapping / load_rates
    report = estimate_energy(table, rates, [resolve_preset("45nm"), resolve_preset("rolls")],
                             resolve_preset("45nm"))
    report.split("RB16").snn_mj["45nm"], report.split("RB16").ann_mj

Figures live in ``sbn.energy.plots`` (imported on demand: matplotlib is slow to load) and
the bits table in ``sbn.energy.bits``.
"""

from sbn.energy.estimate import EnergyReport, LayerEnergy, SplitEnergy, estimate_energy
from sbn.energy.firing import (
    FiringRateProbe,
    FiringRates,
    load_rates,
    measure_firing_rates,
    save_rates,
)
from sbn.energy.macs import Layer, LayerTable, config_layer_table, layer_table
from sbn.energy.presets import (
    BUILTIN_PRESETS,
    DEFAULT_ANN_PRESET,
    DEFAULT_SNN_PRESETS,
    CostPreset,
    load_preset_file,
    resolve_preset,
)
from sbn.energy.report import read_report, render, write_report

__all__ = [
    "BUILTIN_PRESETS",
    "DEFAULT_ANN_PRESET",
    "DEFAULT_SNN_PRESETS",
    "CostPreset",
    "EnergyReport",
    "FiringRateProbe",
    "FiringRates",
    "Layer",
    "LayerEnergy",
    "LayerTable",
    "SplitEnergy",
    "config_layer_table",
    "estimate_energy",
    "layer_table",
    "load_preset_file",
    "load_rates",
    "measure_firing_rates",
    "read_report",
    "render",
    "resolve_preset",
    "save_rates",
    "write_report",
]
