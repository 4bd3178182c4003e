"""Damaged trial records in a sweep's ledger: every field the selection and the summary
read is checked when the ledger is read, so ``sbn sweep --resume`` refuses a damaged
record with one line naming the file and the field, never a traceback.

The sweep folder here is made by hand (the plan of the shared tiny backbone, one finished
trial with a stand-in checkpoint): nothing trains."""

from __future__ import annotations

import json

import pytest
from sweep_folders import finished_sweep

from sbn.errors import ConfigError
from sbn.sweep import Selection, SweepDir, summarise
from sbn.sweep.trial import TRIAL_SCHEMA

TRIAL = "RB1-c4-s1-T2"


def good_record(sha256: str) -> dict:
    """A finished trial as ``sbn.sweep.runner.trial_record`` writes it."""
    return {
        "schema": TRIAL_SCHEMA,
        "producer": "sbn test",
        "id": TRIAL,
        "trial": {"split": "RB1", "channels": 4, "stride": 1, "time_steps": 2},
        "status": "ok",
        "attempts": 1,
        "seconds": 6.6,
        "finished_at": "2026-01-01T00:00:00Z",
        "checkpoint": f"trials/{TRIAL}.safetensors",
        "accuracy": 0.375,
        "backbone_accuracy": 0.125,
        "accuracy_drop": -0.25,
        "payload_shape": [2, 4, 32, 32],
        "transmitted_bits": 8192,
        "baseline_bits": 32768,
        "raw_bits": 32768,
        "compression_ratio": 4.0,
        "reduction_vs_bottlenetpp_pct": 75.0,
        "checkpoint_sha256": sha256,
        "epochs": 1,
        "train_seconds": 2.7,
        "ranks": 1,
        "energy": {
            "snn_mj": {"45nm": 6.3e-05, "rolls": 5.4e-06},
            "ann_mj": 0.00105,
            "ann_preset": "45nm",
            "syops": 70468.0,
            "macs": 229376,
            "rates_source": "pytorch on digits",
            "rates_samples": 1,
        },
    }


@pytest.fixture
def sweep(backbone, tmp_path):
    """(folder, record file, good record): a one-trial sweep, finished."""
    out = tmp_path / "sweep"
    records = {}

    def record(trial_id, sha):
        records[trial_id] = good_record(sha)
        return records[trial_id]

    folder = finished_sweep(out, backbone, splits="RB1", channels="4", trials=[TRIAL], record=record)
    return out, folder.record_file(TRIAL), records[TRIAL]


def damage(path, change) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def setter(*keys, value):
    def change(record):
        table = record
        for key in keys[:-1]:
            table = table[key]
        table[keys[-1]] = value

    return change


def remover(key):
    return lambda record: record.pop(key)


DAMAGE = {
    "drop a string": (setter("accuracy_drop", value="abc"), "accuracy_drop is \"abc\"; it must be a finite"),
    "drop null": (setter("accuracy_drop", value=None), "accuracy_drop is null; it must be a finite number"),
    "drop missing": (remover("accuracy_drop"), "accuracy_drop is missing; it must be a finite number"),
    "drop NaN": (setter("accuracy_drop", value=float("nan")), "accuracy_drop is NaN"),
    "accuracy a list": (setter("accuracy", value=[1]), "accuracy is [1]; it must be a finite number"),
    "backbone accuracy missing": (remover("backbone_accuracy"), "backbone_accuracy is missing"),
    "bits a string": (setter("transmitted_bits", value="x"), 'transmitted_bits is "x"; it must be a whole'),
    "bits true": (setter("transmitted_bits", value=True), "transmitted_bits is true"),
    "bits negative": (setter("transmitted_bits", value=-1), "transmitted_bits is -1"),
    "baseline bits a string": (setter("baseline_bits", value="x"), 'baseline_bits is "x"'),
    "ratio a string": (setter("compression_ratio", value="x"), 'compression_ratio is "x"'),
    "payload shape": (setter("payload_shape", value="2x4"), 'payload_shape is "2x4"'),
    "trial a string": (setter("trial", value="x"), 'trial is "x"; it must be a table'),
    "trial null": (setter("trial", value=None), "trial is null; it must be a table"),
    "trial split": (setter("trial", "split", value="RB9"), 'trial.split is "RB9", but the trial\'s id'),
    "trial T a string": (setter("trial", "time_steps", value="2"), 'trial.time_steps is "2"'),
    "trial without T": (lambda r: r["trial"].pop("time_steps"), "trial.time_steps is missing"),
    "energy a string": (setter("energy", value="x"), 'energy is "x"; it must be a table'),
    "snn energy a list": (setter("energy", "snn_mj", value=[1]), "energy.snn_mj is [1]"),
    "preset energy a string": (setter("energy", "snn_mj", "45nm", value="x"), 'energy.snn_mj.45nm is "x"'),
    "ann energy a string": (setter("energy", "ann_mj", value="x"), 'energy.ann_mj is "x"'),
    "failed, error a list": (
        lambda r: r.update(status="failed", error=[1], permanent=False),
        "error is [1]; it must be a string",
    ),
    "failed, permanent a string": (
        lambda r: r.update(status="failed", error="boom", permanent="yes"),
        'permanent is "yes"; it must be true or false',
    ),
}


def test_a_sound_record_is_read_and_chosen(sweep):
    out, _, record = sweep
    assert SweepDir(out).records()[TRIAL] == record
    summary = summarise(out, Selection(budget=100, relaxed_budget=100))
    assert summary["chosen"]["trial"] == TRIAL


@pytest.mark.parametrize("change, message", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_record_is_refused_when_read(sweep, change, message):
    out, path, _ = sweep
    damage(path, change)
    with pytest.raises(ConfigError) as caught:
        SweepDir(out).records()
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text, text
    assert text.endswith("delete it to run that trial again") and "\n" not in text


@pytest.mark.parametrize(
    "name", ["drop a string", "drop null", "drop missing", "trial a string", "energy a string"]
)
def test_sweep_resume_with_a_damaged_record_is_one_line(sweep, run_sbn, name):
    out, path, _ = sweep
    change, message = DAMAGE[name]
    damage(path, change)
    before = path.read_bytes()
    code, _, err = run_sbn("sweep", "--out", out, "--resume", "--workers", "0", "--device", "cpu")
    lines = err.strip().splitlines()
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), err
    assert message in lines[0], lines[0]
    assert path.read_bytes() == before
    assert not (out / "summary.json").exists()
