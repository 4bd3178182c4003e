"""What ``sbn sweep`` shows when nothing meets the budget (the closest trial per split,
marked over budget, in the table and the plot), and its output being consistent: the export
command printed once, flags as ``yes`` in every format, budgets in percentage points.

The sweep folder is made by hand (the plan of the shared tiny backbone, finished trials
with stand-in checkpoints and chosen accuracy drops): nothing trains."""

from __future__ import annotations

import json

import pytest
from sweep_folders import finished_sweep

from sbn.sweep.trial import TRIAL_SCHEMA

#: trial id -> accuracy drop: at both split points every trial is far over a 3-point budget
DROPS = {"RB1-c4-s1-T2": 0.25, "RB1-c8-s1-T2": 0.1875, "RB4-c4-s1-T2": 0.140625, "RB4-c8-s1-T2": 0.2}
SHAPES = {"RB1": [32, 32], "RB4": [4, 4]}


def record(trial_id: str, sha256: str) -> dict:
    split, c, _, _ = trial_id.split("-")
    channels = int(c[1:])
    h, w = SHAPES[split]
    bits = 2 * channels * h * w
    return {
        "schema": TRIAL_SCHEMA,
        "producer": "sbn test",
        "id": trial_id,
        "trial": {"split": split, "channels": channels, "stride": 1, "time_steps": 2},
        "status": "ok",
        "attempts": 1,
        "seconds": 1.0,
        "finished_at": "2026-01-01T00:00:00Z",
        "checkpoint": f"trials/{trial_id}.safetensors",
        "accuracy": 0.5 - DROPS[trial_id],
        "backbone_accuracy": 0.5,
        "accuracy_drop": DROPS[trial_id],
        "payload_shape": [2, channels, h, w],
        "transmitted_bits": bits,
        "baseline_bits": 4 * bits,
        "raw_bits": 8 * bits,
        "compression_ratio": 8.0,
        "reduction_vs_bottlenetpp_pct": 75.0,
        "checkpoint_sha256": sha256,
        "epochs": 1,
        "train_seconds": 1.0,
        "ranks": 1,
        "energy": {
            "snn_mj": {"45nm": 1e-4 * channels, "rolls": 1e-5 * channels},
            "ann_mj": 1e-3,
            "ann_preset": "45nm",
            "syops": 1.0,
            "macs": 1,
            "rates_source": "pytorch on digits",
            "rates_samples": 1,
        },
    }


@pytest.fixture
def sweep(backbone, tmp_path):
    """A finished sweep folder of four trials, none within 4 points of the backbone."""
    out = tmp_path / "sweep"
    finished_sweep(out, backbone, splits="RB1,RB4", channels="4,8", trials=DROPS, record=record)
    return out


def resume(run_sbn, out, *args):
    return run_sbn("sweep", "--out", out, "--resume", "--workers", "0", "--device", "cpu", *args)


def test_nothing_qualified_shows_the_closest_trials_over_budget(sweep, run_sbn, tmp_path):
    plot = tmp_path / "sweep.svg"
    code, out, err = resume(run_sbn, sweep, "--plot", plot)
    assert code == 0, err
    # per split, the trial with the smallest drop, its figures, marked over budget
    assert "RB1-c8-s1-T2" in out and "18.75" in out and "RB1-c4-s1-T2" not in out
    assert "RB4-c4-s1-T2" in out and "14.06" in out and "RB4-c8-s1-T2" not in out
    rows = [line for line in out.splitlines() if line.startswith("│ RB")]
    assert len(rows) == 2 and all("over budget" in row for row in rows)
    assert "relaxed budget of 4 points: nothing chosen; the rows show each split's closest trial" in out
    assert "export" not in out + err
    summary = json.loads((sweep / "summary.json").read_text())
    rows = {r["split"]: r for r in summary["rows"]}
    assert rows["RB1"]["status"] == "none qualified" and rows["RB1"]["over_budget"] is True
    assert (rows["RB1"]["trial"], rows["RB1"]["chosen"], summary["chosen"]) == ("RB1-c8-s1-T2", False, None)
    assert not (sweep / "chosen.safetensors").exists()
    # matplotlib writes each text of an SVG as a comment: the figure says what happened
    figure = plot.read_text()
    assert "nothing qualified: no split point within the relaxed budget of 4 points" in figure
    assert "SpikeBottleNet, closest trial, over budget" in figure
    assert "accuracy drop, closest trial, over budget" in figure
    assert "SpikeBottleNet (chosen per split)" not in figure  # no legend for an empty curve


def test_a_choice_with_the_export_command_once_and_flags_alike(sweep, run_sbn, tmp_path):
    code, out, err = resume(run_sbn, sweep, "--budget", "15", "--relaxed-budget", "15")
    assert code == 0, err
    command = json.loads((sweep / "summary.json").read_text())["chosen"]["export_command"]
    assert (out + err).count(command) == 1 and f"export: {command}" in out
    assert "within 15 pp" in out and "over budget" in out  # RB4 fits, RB1 not
    code, _, err = resume(run_sbn, sweep, "--budget", "15", "--relaxed-budget", "15", "--format", "csv")
    assert code == 0 and err.count(command) == 1  # stdout is the CSV: the command goes to stderr
    report = tmp_path / "sweep.md"
    code, _, err = resume(run_sbn, sweep, "--budget", "15", "--relaxed-budget", "19", "--report", report)
    assert code == 0, err
    md = report.read_text()
    assert "True" not in md and "False" not in md
    assert "| accuracy drop pp |" in md
    rb1, rb4 = (line for line in md.splitlines() if line.startswith(("| RB1 ", "| RB4 ")))
    assert "| relaxed to 19 pp |" in rb1 and "| within 15 pp |" in rb4
    assert rb4.endswith("| RB4-c4-s1-T2 | yes | yes |")  # pareto, chosen: as the table shows them
