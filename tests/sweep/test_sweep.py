"""Sweeps of the reduced model on digits: results, resume, interruption, failing trials,
the summary and its chosen checkpoint, and a real run on two Ray workers."""

import json
import sys
from pathlib import Path

import pytest
import ray.cloudpickle

from sbn import checkpoint as ckpt_io
from sbn.errors import ConfigError
from sbn.sweep import Selection, SweepDir, make_sweep_plan, read_summary, run_sweep, run_trial, summarise
from sbn.sweep.report import render
from sbn.train import TrainSettings

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the fault injectors below

QUICK = TrainSettings(epochs=1, train_samples=64, test_samples=32)


def plan_for(backbone, **axes):
    axes = {"splits": "RB1,RB4", "channels": "4", "strides": "1,2", "time_steps": "2", **axes}
    return make_sweep_plan(backbone, train=QUICK, **axes)


def interrupt_once(job):
    """Ctrl-C arrives during the RB4 stride-2 trial the first time it runs."""
    marker = Path(job.checkpoint).with_suffix(".interrupted")
    if job.spec.id == "RB4-c4-s2-T2" and not marker.exists():
        marker.write_text("")
        raise KeyboardInterrupt
    return run_trial(job)


def crash_rb1(job):
    """A trial that fails for a reason outside the toolchain (say, out of memory)."""
    if (job.spec.split, job.spec.stride) == (1, 1):
        raise MemoryError("pretend the worker ran out of memory")
    return run_trial(job)


def mtimes(folder: Path) -> dict[str, int]:
    return {f.name: f.stat().st_mtime_ns for f in (folder / "trials").iterdir()}


@pytest.fixture(scope="module")
def finished(backbone, tmp_path_factory):
    """One complete in-process sweep: RB1 (C'=4, s=1) and RB4 (C'=4, s=1 and s=2), T=2."""
    out = tmp_path_factory.mktemp("sweep") / "run"
    run = run_sweep(out, plan_for(backbone), workers=0)
    return out, run


def test_trials_recorded_with_hand_checked_bits(finished):
    out, run = finished
    assert [r["id"] for r in run.ran] == ["RB1-c4-s1-T2", "RB4-c4-s1-T2", "RB4-c4-s2-T2"]
    records = SweepDir(out).records()
    # RB1 of the reduced model: 16x32x32; C'=4 -> 4*32*32*2 = 8,192 bits (BottleNet++: *8/2)
    # RB4: 128x4x4; C'=4, stride 2 -> 4*2*2*2 = 32 bits, raw 128*4*4*2 = 4,096
    rb1, rb4s2 = records["RB1-c4-s1-T2"], records["RB4-c4-s2-T2"]
    assert (rb1["transmitted_bits"], rb1["baseline_bits"], rb1["raw_bits"]) == (8192, 32768, 32768)
    assert (rb4s2["transmitted_bits"], rb4s2["raw_bits"], rb4s2["payload_shape"]) == (32, 4096, [2, 4, 2, 2])
    assert rb1["reduction_vs_bottlenetpp_pct"] == 75.0  # 1 - T/8 at T = 2
    for r in records.values():
        assert r["schema"] == "sbn.sweep-trial/1" and r["status"] == "ok" and r["attempts"] == 1
        assert r["accuracy_drop"] == pytest.approx(r["backbone_accuracy"] - r["accuracy"])
        saved = ckpt_io.load(out / r["checkpoint"])
        assert saved.config.bottleneck.split_name == r["trial"]["split"]
        assert saved.training["reference"]["backbone_sha256"] == ckpt_io.file_sha256(
            saved.training["reference"]["backbone_checkpoint"]
        )
        assert set(r["energy"]["snn_mj"]) == {"45nm", "rolls"}
        # one preset is the other times the ratio of their SyOP energies (0.9 pJ / 77 fJ)
        assert r["energy"]["snn_mj"]["45nm"] == pytest.approx(r["energy"]["snn_mj"]["rolls"] * 0.9 / 0.077)
    # device energy is cumulative: RB4 costs at least what RB1 does on the baseline
    assert records["RB4-c4-s1-T2"]["energy"]["ann_mj"] > rb1["energy"]["ann_mj"]


def test_summary_and_chosen_checkpoint(finished, tmp_path):
    out, _ = finished
    summary = summarise(out, Selection(budget=100, relaxed_budget=100, objective="bits"))
    assert summary["schema"] == "sbn.sweep/1" and read_summary(out) == summary
    rows = {r["split"]: r for r in summary["rows"]}
    assert rows["RB4"]["trial"] == "RB4-c4-s2-T2"  # 32 bits beat 128 at any accuracy here
    assert rows["RB4"]["status"] == "within budget" and rows["RB4"]["chosen"]
    chosen = summary["chosen"]
    assert (chosen["split"], chosen["trial"], chosen["checkpoint"]) == (
        "RB4",
        "RB4-c4-s2-T2",
        "chosen.safetensors",
    )
    assert (out / "chosen.safetensors").read_bytes() == (out / "trials/RB4-c4-s2-T2.safetensors").read_bytes()
    assert chosen["export_command"] == f"sbn export {out}/chosen.safetensors --out {out}/export"
    assert summary["trials"] == {"planned": 3, "finished": 3, "failed": 0, "pending": 0}

    csv = render(summary, "csv").splitlines()
    assert csv[0] == "# sbn.sweep/1; produced by sbn 0.1.0"
    assert csv[1].startswith("split,T,C',stride,bits,BottleNet++ bits,reduction vs BottleNet++ %")
    assert csv[3].startswith("RB4,2,4,2,32,128,75.0,")
    md = render(summary, "md")
    assert "| RB4 | 2 | 4 | 2 | 32 | 128 | 75 |" in md and "Chosen (fewest transmitted bits): RB4" in md
    assert json.loads(render(summary, "json")) == summary

    from sbn.sweep.plots import plot_sweep

    plot_sweep(summary, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ConfigError, match="cannot tell the plot format"):
        plot_sweep(summary, tmp_path / "sweep.gif")


def test_nothing_qualifies_removes_a_stale_choice(finished):
    out, _ = finished
    summarise(out, Selection(budget=100, relaxed_budget=100))
    assert (out / "chosen.safetensors").exists()
    # a budget below 0 points cannot be given; hand-edit one record to a large drop instead
    folder = SweepDir(out)
    records = folder.records()
    edited = {**records["RB1-c4-s1-T2"], "accuracy_drop": 0.5}
    folder.write_record(edited)
    try:
        strict = summarise(out, Selection(budget=0, relaxed_budget=0))
        rows = {r["split"]: r for r in strict["rows"]}
        assert rows["RB1"]["status"] == "none qualified" and not rows["RB1"]["chosen"]
        # shown anyway: the closest trial, flagged over budget
        assert rows["RB1"]["trial"] == "RB1-c4-s1-T2" and rows["RB1"]["over_budget"] is True
    finally:
        folder.write_record(records["RB1-c4-s1-T2"])


def test_resume_skips_finished_trials_and_grows_the_grid(finished, backbone):
    out, _ = finished
    before = mtimes(out)
    again = run_sweep(out, plan_for(backbone), resume=True, workers=0)
    assert again.ran == [] and len(again.skipped) == 3
    assert mtimes(out) == before  # nothing rewritten
    # the grid grows axis by axis: RB3 joins with every C', stride (1 only: not the last
    # block) and T of the stored grid
    grown = run_sweep(out, plan_for(backbone, splits="RB3", strides="1"), resume=True, workers=0)
    assert [r["id"] for r in grown.ran] == ["RB3-c4-s1-T2"]
    assert SweepDir(out).load_plan().grid.splits == (1, 3, 4)
    assert {k: v for k, v in mtimes(out).items() if k in before} == before


def test_existing_sweep_and_other_settings_are_refused(finished, backbone):
    out, _ = finished
    with pytest.raises(ConfigError, match="already holds a sweep: pass --resume"):
        run_sweep(out, plan_for(backbone), workers=0)
    other = make_sweep_plan(
        backbone,
        splits="RB1",
        channels="4",
        time_steps="2",
        train=TrainSettings(epochs=2, train_samples=64, test_samples=32),
    )
    with pytest.raises(ConfigError, match=r"cannot resume with other settings \(changed: epochs\)"):
        run_sweep(out, other, resume=True, workers=0)


def test_interrupted_sweep_continues(backbone, tmp_path):
    out = tmp_path / "interrupted"
    plan = plan_for(backbone, splits="RB4")
    with pytest.raises(KeyboardInterrupt):
        run_sweep(out, plan, workers=0, trial_fn=interrupt_once)
    done = mtimes(out)
    assert "RB4-c4-s1-T2.json" in done and "RB4-c4-s2-T2.json" not in done
    resumed = run_sweep(out, plan, resume=True, workers=0, trial_fn=interrupt_once)
    assert [r["id"] for r in resumed.ran] == ["RB4-c4-s2-T2"]
    assert resumed.skipped == ["RB4-c4-s1-T2"]
    assert {k: v for k, v in mtimes(out).items() if k in done} == done


def test_failing_trials_are_recorded_and_the_sweep_completes(backbone, tmp_path):
    out = tmp_path / "failing"
    # stride 3 divides neither 32x32 (RB1) nor 4x4 (RB4): a configuration error;
    # RB1 stride 1 fails for a reason outside the toolchain (retried once, then recorded)
    plan = plan_for(backbone, strides="1,3", strides_everywhere=True)
    run = run_sweep(out, plan, workers=0, trial_fn=crash_rb1)
    status = {r["id"]: (r["status"], r["attempts"], r.get("permanent")) for r in run.ran}
    assert status == {
        "RB1-c4-s1-T2": ("failed", 2, False),
        "RB1-c4-s3-T2": ("failed", 1, True),
        "RB4-c4-s1-T2": ("ok", 1, None),
        "RB4-c4-s3-T2": ("failed", 1, True),
    }
    records = SweepDir(out).records()
    assert records["RB4-c4-s3-T2"]["error"] == "ConfigError: stride 3 does not divide the 4x4 map after RB4"
    assert records["RB1-c4-s1-T2"]["error"] == "MemoryError: pretend the worker ran out of memory"
    summary = summarise(out, Selection())
    rows = {r["split"]: r for r in summary["rows"]}
    assert rows["RB1"]["status"] == "no finished trials" and rows["RB1"]["trials_failed"] == 2
    assert summary["trials"]["failed"] == 3 and summary["chosen"]["split"] == "RB4"
    # the next run retries the transient failure only; --retry-failed also the bad configs
    again = run_sweep(out, plan, resume=True, workers=0)
    assert [r["id"] for r in again.ran] == ["RB1-c4-s1-T2"] and again.ran[0]["status"] == "ok"
    assert again.not_retried == ["RB1-c4-s3-T2", "RB4-c4-s3-T2"]
    forced = run_sweep(out, plan, resume=True, workers=0, retry_failed=True)
    assert [r["id"] for r in forced.ran] == ["RB1-c4-s3-T2", "RB4-c4-s3-T2"]


def test_two_ray_workers_end_to_end(backbone, ray_local, tmp_path):
    out = tmp_path / "ray"
    seen = []
    plan = plan_for(backbone, strides="1,3", strides_everywhere=True, splits="RB4")
    run = run_sweep(out, plan, workers=2, on_trial=seen.append)
    assert sorted(r["id"] for r in seen) == ["RB4-c4-s1-T2", "RB4-c4-s3-T2"]
    status = {r["id"]: r["status"] for r in run.ran}
    assert status == {"RB4-c4-s1-T2": "ok", "RB4-c4-s3-T2": "failed"}
    summary = summarise(out, Selection())
    assert summary["chosen"]["trial"] == "RB4-c4-s1-T2"
    ckpt = ckpt_io.load(out / "chosen.safetensors")
    assert ckpt.config.bottleneck.channels == 4 and ckpt.config.time_steps == 2
