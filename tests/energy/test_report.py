"""The energy report's JSON schema, round trips, CSV and markdown."""

import csv
import io
import json

import pytest

from sbn.energy import (
    FiringRates,
    config_layer_table,
    estimate_energy,
    read_report,
    render,
    resolve_preset,
    write_report,
)
from sbn.energy.report import SCHEMA, from_dict, to_dict
from sbn.errors import ConfigError
from sbn.models import ModelConfig

SNN = [resolve_preset(n) for n in ("45nm", "rolls", "loihi2")]
ANN = resolve_preset("45nm")
LAYER_KEYS = {
    "name",
    "rb",
    "macs",
    "firing_rate",
    "time_steps",
    "syops",
    "ann_mj",
    "snn_45nm_mj",
    "snn_rolls_mj",
    "snn_loihi2_mj",
}


@pytest.fixture(scope="module")
def table():
    return config_layer_table(ModelConfig(width=0.25))


@pytest.fixture(scope="module")
def measured(table):
    rates = {n: (i % 7) / 10 for i, n in enumerate(table.names)}
    rates = FiringRates(
        rates=rates, time_steps=4, source="pytorch on digits", samples=8, extra={"dataset": "digits"}
    )
    return estimate_energy(table, rates, SNN, ANN, model={"arch": "resnet50", "width": 0.25})


@pytest.fixture(scope="module")
def baseline(table):
    return estimate_energy(table, None, SNN, ANN, model={"arch": "resnet50"})


def test_json_schema(measured):
    data = json.loads(render(measured, "json"))
    assert data["schema"] == SCHEMA == "sbn.energy/1"
    assert data["producer"].startswith("sbn ")
    assert [s["split"] for s in data["splits"]] == [f"RB{k}" for k in range(1, 17)]
    for k, s in enumerate(data["splits"], 1):
        assert {
            "split",
            "ann_mj",
            "snn_45nm_mj",
            "snn_rolls_mj",
            "snn_loihi2_mj",
            "ratio_45nm",
            "macs",
            "syops",
            "layers",
        } <= set(s)
        assert len(s["layers"]) == 3 * k  # the counted layers of RB1..RBk
        assert all(LAYER_KEYS <= set(le) for le in s["layers"])
        assert s["ann_mj"] == pytest.approx(sum(le["ann_mj"] for le in s["layers"]))
        assert s["snn_rolls_mj"] == pytest.approx(sum(le["snn_rolls_mj"] for le in s["layers"]))
        assert s["ratio_45nm"] == pytest.approx(s["ann_mj"] / s["snn_45nm_mj"])
    layer = data["splits"][0]["layers"][1]
    assert layer["rb"] == "RB1" and layer["name"] == "blocks.0.conv2"
    assert layer["syops"] == pytest.approx(layer["firing_rate"] * 4 * layer["macs"])
    assert data["presets"]["rolls"]["e_syop_pj"] == 0.077
    assert data["firing_rates"]["samples"] == 8


def test_json_without_rates_marks_spiking_values_unknown(baseline):
    data = json.loads(render(baseline, "json"))
    assert data["firing_rates"] is None
    for s in data["splits"]:
        assert s["ann_mj"] > 0
        assert s["snn_45nm_mj"] is None and s["snn_rolls_mj"] is None and s["ratio_45nm"] is None
        assert all(le["firing_rate"] is None and le["snn_45nm_mj"] is None for le in s["layers"])


@pytest.mark.parametrize("which", ["measured", "baseline"])
def test_round_trip(request, tmp_path, which):
    report = request.getfixturevalue(which)
    assert from_dict(json.loads(json.dumps(to_dict(report)))) == report
    write_report(tmp_path / "e.json", report)
    assert read_report(tmp_path / "e.json") == report


def test_other_versions_and_broken_files_are_refused(tmp_path, measured):
    data = to_dict(measured)
    data["schema"] = "sbn.energy/2"
    with pytest.raises(
        ConfigError,
        match="key 'schema' is 'sbn.energy/2'; this sbn reads an energy report with schema 'sbn.energy/1'",
    ):
        from_dict(data)
    data = to_dict(measured)
    del data["splits"][3]["ann_mj"]
    with pytest.raises(ConfigError, match="malformed energy report"):
        from_dict(data)
    (tmp_path / "x.json").write_text("[")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_report(tmp_path / "x.json")


def test_csv(measured, baseline):
    text = render(measured, "csv")
    assert text.startswith("# sbn.energy/1")
    rows = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    assert [r["split"] for r in rows] == [f"RB{k}" for k in range(1, 17)]
    assert float(rows[15]["snn_loihi2_mj"]) == measured.splits[15].snn_mj["loihi2"]  # exact
    assert float(rows[15]["ann_mj"]) == measured.splits[15].ann_mj
    empty = list(csv.DictReader(io.StringIO(render(baseline, "csv").split("\n", 1)[1])))
    assert empty[0]["snn_45nm_mj"] == "" and float(empty[0]["ann_mj"]) > 0


def test_markdown(measured, baseline):
    text = render(measured, "md")
    assert "sbn.energy/1" in text and "| RB16 |" in text and "pytorch on digits" in text
    assert "needs rates" in render(baseline, "md")
    with pytest.raises(ConfigError, match="unknown report format"):
        render(measured, "xml")
