"""The energy report as files: JSON (schema ``sbn.energy/1``), CSV and markdown.

JSON layout (docs/energy.md has the full schema)::

    {"schema": "sbn.energy/1", "producer": "sbn 0.1.0", "units": {...}, "model": {...},
     "presets": {name: {e_syop_pj, e_mac_pj, description, source}},
     "ann_preset": "45nm", "snn_presets": ["45nm", "rolls", ...],
     "firing_rates": null | {sbn.firing-rates/1 object},
     "splits": [{"split": "RB1", "block": 1, "macs", "syops", "ann_mj",
                 "snn_<preset>_mj", "ratio_<preset>", "layers": [
                     {"name", "label", "rb", "block", "macs", "in_neurons", "firing_rate",
                      "time_steps", "syops", "ann_mj", "snn_<preset>_mj"}, ...]}, ...]}

Spiking values are ``null`` when no firing rates were given; ``layers`` of split RBk are
the counted layers of RB1..RBk, whose energies sum to the split's totals.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from sbn import __version__
from sbn.energy.estimate import EnergyReport, LayerEnergy, SplitEnergy
from sbn.energy.firing import FiringRates
from sbn.energy.presets import CostPreset
from sbn.energy.tables import csv_text, markdown_table
from sbn.errors import ConfigError
from sbn.fileio import check_version, read_document, write_text

SCHEMA = "sbn.energy/1"
UNITS = {
    "energy": "mJ per inference of one sample, device side (RB1..RBk)",
    "macs": "multiply-accumulates per sample per time step",
    "syops": "synaptic operations per sample over all T time steps",
    "e_pj": "pJ per operation",
}
FORMATS = ("json", "csv", "md")


def _layer_dict(le: LayerEnergy, snn: tuple[str, ...]) -> dict[str, Any]:
    d = {
        "name": le.name,
        "label": le.label,
        "rb": le.split,
        "block": le.block,
        "macs": le.macs,
        "in_neurons": le.in_neurons,
        "firing_rate": le.firing_rate,
        "time_steps": le.time_steps,
        "syops": le.syops,
        "ann_mj": le.ann_mj,
    }
    for n in snn:
        d[f"snn_{n}_mj"] = None if le.snn_mj is None else le.snn_mj[n]
    return d


def _split_dict(s: SplitEnergy, snn: tuple[str, ...]) -> dict[str, Any]:
    d: dict[str, Any] = {
        "split": s.split,
        "block": s.block,
        "macs": s.macs,
        "syops": s.syops,
        "ann_mj": s.ann_mj,
    }
    for n in snn:
        d[f"snn_{n}_mj"] = None if s.snn_mj is None else s.snn_mj[n]
    for n in snn:
        d[f"ratio_{n}"] = s.ratio(n)
    d["layers"] = [_layer_dict(le, snn) for le in s.layers]
    return d


def to_dict(report: EnergyReport) -> dict[str, Any]:
    snn = report.snn_names
    presets = {p.name: p.to_dict() for p in (report.ann_preset, *report.snn_presets)}
    return {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "units": dict(UNITS),
        "model": dict(report.model),
        "presets": presets,
        "ann_preset": report.ann_preset.name,
        "snn_presets": list(snn),
        "firing_rates": None if report.rates is None else report.rates.to_dict(),
        "splits": [_split_dict(s, snn) for s in report.splits],
    }


def from_dict(data: Mapping[str, Any], where: str = "energy report") -> EnergyReport:
    """Rebuild a report written by ``to_dict``; other schema versions are refused."""
    check_version(dict(data) if isinstance(data, Mapping) else data, SCHEMA, where, "an energy report")
    try:
        presets = {n: CostPreset(name=n, **f) for n, f in data["presets"].items()}
        snn = tuple(data["snn_presets"])
        rates = data["firing_rates"]

        def layer(d: Mapping[str, Any]) -> LayerEnergy:
            return LayerEnergy(
                name=d["name"],
                block=d["block"],
                macs=d["macs"],
                in_neurons=d["in_neurons"],
                ann_mj=d["ann_mj"],
                firing_rate=d["firing_rate"],
                time_steps=d["time_steps"],
                syops=d["syops"],
                snn_mj=None if d["syops"] is None else {n: d[f"snn_{n}_mj"] for n in snn},
            )

        splits = tuple(
            SplitEnergy(
                block=s["block"],
                macs=s["macs"],
                ann_mj=s["ann_mj"],
                layers=tuple(layer(d) for d in s["layers"]),
                syops=s["syops"],
                snn_mj=None if s["syops"] is None else {n: s[f"snn_{n}_mj"] for n in snn},
            )
            for s in data["splits"]
        )
        return EnergyReport(
            splits=splits,
            ann_preset=presets[data["ann_preset"]],
            snn_presets=tuple(presets[n] for n in snn),
            rates=None if rates is None else FiringRates.from_dict(rates, where),
            model=dict(data["model"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{where}: malformed energy report (missing or bad {exc})") from None


def split_rows(report: EnergyReport) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per split point, the columns every flat format shares."""
    snn = report.snn_names
    header = ["split", "macs", "syops", "ann_mj"]
    header += [f"snn_{n}_mj" for n in snn] + [f"ratio_{n}" for n in snn]
    rows = []
    for s in report.splits:
        row: list[Any] = [s.split, s.macs, s.syops, s.ann_mj]
        row += [None if s.snn_mj is None else s.snn_mj[n] for n in snn]
        row += [s.ratio(n) for n in snn]
        rows.append(row)
    return header, rows


def to_json(report: EnergyReport) -> str:
    return json.dumps(to_dict(report), indent=2) + "\n"


def to_csv(report: EnergyReport) -> str:
    header, rows = split_rows(report)
    return csv_text(_provenance(report), header, rows)


def to_markdown(report: EnergyReport) -> str:
    header, rows = split_rows(report)
    lines = [f"<!-- {_provenance(report)} -->", "", _summary(report), ""]
    lines.append(markdown_table(header, rows, missing="needs rates"))
    return "\n".join(lines)


def render(report: EnergyReport, fmt: str) -> str:
    renderers = {"json": to_json, "csv": to_csv, "md": to_markdown}
    if fmt not in renderers:
        raise ConfigError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return renderers[fmt](report)


def write_report(path: str | os.PathLike, report: EnergyReport, fmt: str = "json") -> None:
    write_text(path, render(report, fmt))


def read_report(path: str | os.PathLike) -> EnergyReport:
    return from_dict(read_document(path, SCHEMA, "an energy report"), where=str(path))


def _provenance(report: EnergyReport) -> str:
    return f"{SCHEMA}; produced by sbn {__version__}; energies in mJ per inference"


def _summary(report: EnergyReport) -> str:
    m = report.model
    model = ", ".join(f"{k}={v}" for k, v in m.items()) or "unspecified model"
    if report.rates is None:
        rates = "no firing rates: spiking energies need --checkpoint or --firing-rate"
    else:
        r = report.rates
        rates = f"firing rates: {r.source}" + (f" ({r.samples} samples)" if r.samples else "")
    return f"Device energy per split point ({model}); baseline priced on {report.ann_preset.name}; {rates}."
