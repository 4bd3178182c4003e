"""``sbn energy`` through the real entry point (``sbn.cli.main`` and the installed script)."""

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SBN = Path(sys.executable).parent / "sbn"
MACS_RB16 = 1178599424  # tests/energy/fixtures/resnet50_macs.json


def test_baseline_without_checkpoint_json(run_sbn):
    code, out, err = run_sbn("energy", "--arch", "resnet50", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["schema"] == "sbn.energy/1" and data["firing_rates"] is None
    rb16 = data["splits"][-1]
    assert rb16["split"] == "RB16" and rb16["macs"] == MACS_RB16
    assert rb16["ann_mj"] == pytest.approx(MACS_RB16 * 4.6e-9)
    assert rb16["snn_45nm_mj"] is None and rb16["snn_rolls_mj"] is None
    assert data["model"]["width"] == 1.0 and data["model"]["num_classes"] == 100


def test_default_table_marks_missing_rates(run_sbn):
    code, out, _ = run_sbn("energy", "--width", "0.25")
    assert code == 0
    assert "RB16" in out and "needs rates" in out and "ANN 45nm [mJ]" in out


def test_what_if_firing_rate_with_loihi(run_sbn):
    code, out, _ = run_sbn("energy", "--firing-rate", "0.1", "--preset", "loihi", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.split("\n", 1)[1])))
    rb16 = rows[-1]
    # SyOPs = 0.1 * 4 * MACs; 45 nm: * 0.9 pJ; ROLLS: * 0.077 pJ; Loihi: * 23.6 pJ
    syops = 0.1 * 4 * MACS_RB16
    assert float(rb16["syops"]) == pytest.approx(syops)
    assert float(rb16["snn_45nm_mj"]) == pytest.approx(syops * 0.9e-9)
    assert float(rb16["snn_rolls_mj"]) == pytest.approx(syops * 0.077e-9)
    assert float(rb16["snn_loihi2_mj"]) == pytest.approx(syops * 23.6e-9)
    assert float(rb16["ratio_45nm"]) == pytest.approx(4.6 / (0.4 * 0.9))


def test_user_preset_file(run_sbn):
    presets = Path(__file__).parents[1] / "energy" / "fixtures" / "user_presets.toml"
    code, out, err = run_sbn(
        "energy",
        "--presets-file",
        presets,
        "--preset",
        "mychip",
        "--ann-preset",
        "mychip",
        "--firing-rate",
        "0.5",
        "--format",
        "json",
    )
    assert code == 0, err
    rb1 = json.loads(out)["splits"][0]
    assert rb1["ann_mj"] == pytest.approx(58720256 * 2.0e-9)  # MAC 2 pJ
    assert rb1["snn_mychip_mj"] == pytest.approx(0.5 * 4 * 58720256 * 0.5e-9)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "tsmc7"], "unknown energy preset 'tsmc7'"),
        (["--firing-rate", "2"], r"must lie in \[0, 1\]"),
        (["--samples", "4"], "measuring firing rates needs --checkpoint"),
        (["--firing-rate", "0.1", "--rates", "x.json"], "either --firing-rate or --rates"),
        (["--out", "e.txt"], "cannot tell the format"),
        (["--format", "table", "--out", "e.md"], "--out writes a file"),
        (["--plot", "e.gif"], "end the file name in"),
        (["--rates", "missing.json"], "cannot read firing rates"),
        (["--device", "cuda:3", "--firing-rate", "0.1"], "--device cuda:3: torch sees no CUDA GPU"),
        (["--device", "npu"], "unknown device 'npu'"),
    ],
)
def test_user_errors_are_one_line(run_sbn, monkeypatch, tmp_path, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_sbn("energy", *args)
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err), err


def test_malformed_preset_file(run_sbn, tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('schema = "sbn.energy-presets/1"\n[presets.x]\ne_syop_pj = 0\n')
    code, _, err = run_sbn("energy", "--presets-file", bad)
    assert code == 1 and "must be > 0 pJ" in err and str(bad) in err


def test_installed_script(tmp_path):
    result = subprocess.run(
        [str(SBN), "energy", "--width", "0.25", "--firing-rate", "0.2", "--format", "md"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "| RB16 |" in result.stdout and "sbn.energy/1" in result.stdout
    bad = subprocess.run(
        [str(SBN), "energy", "--preset", "nope"], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: unknown energy preset")


def test_layers_view(run_sbn):
    code, out, _ = run_sbn("energy", "--width", "0.25", "--firing-rate", "0.3", "--layers")
    assert code == 0
    assert "Counted layers" in out and "RB16.conv3" in out and "blocks.15.conv3" in out
    assert "downsample" not in out and "needs rates" not in out
