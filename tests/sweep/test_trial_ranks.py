"""A trial trained data-parallel (``ranks`` > 1, what ``--gpus-per-trial N`` asks for) on
two gloo ranks of this CPU, against the same trial in one process; a failing rank, and an
interrupted trial, whose ranks must not outlive it."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from processes import cmdline, wait_gone

from sbn import checkpoint as ckpt_io
from sbn.errors import DataError
from sbn.sweep import run_trial
from sbn.sweep.grid import TrialSpec
from sbn.sweep.trial import TrialJob
from sbn.sweep.trial_ranks import train_on_ranks
from sbn.train import TrainSettings

# SGD and a small lr, as in tests/train/test_ddp.py: Adam's normalised step would turn the
# two runs' float-rounding differences into lr-sized ones. 75 images in batches of 30
# leave a last batch of 15, split 8 + 7 between the ranks.
SETTINGS = TrainSettings(epochs=1, batch_size=30, train_samples=75, test_samples=20, optimizer="sgd", lr=0.01)
SPEC = TrialSpec(split=2, channels=4, stride=1, time_steps=2)


def job(backbone, checkpoint, **kw) -> TrialJob:
    fields = dict(
        spec=SPEC,
        backbone=str(backbone),
        checkpoint=str(checkpoint),
        settings=SETTINGS.to_dict(),
        rates_samples=8,
        threads=1,
        device="cpu",
    )
    return TrialJob(**{**fields, **kw})


def test_job_round_trips_through_json(backbone, tmp_path):
    original = job(backbone, tmp_path / "t.safetensors", ranks=3, data_dir="/data")
    assert TrialJob.from_dict(json.loads(json.dumps(original.to_dict()))) == original


def test_two_ranks_train_the_trial_one_process_trains(backbone, tmp_path):
    single = run_trial(job(backbone, tmp_path / "single.safetensors"))
    two = job(backbone, tmp_path / "ranks.safetensors", ranks=2)
    train_on_ranks(two, torch.device("cpu"))  # what run_trial does first: the ranks train
    trained = (tmp_path / "ranks.safetensors").read_bytes()
    parallel = run_trial(two)  # ... and then it only summarises
    assert (tmp_path / "ranks.safetensors").read_bytes() == trained
    assert (single["ranks"], parallel["ranks"]) == (1, 2)
    a, b = (ckpt_io.load(tmp_path / f"{n}.safetensors") for n in ("single", "ranks"))
    assert b.training["epoch"] == 1 and b.config == a.config
    for key, value in a.model_state.items():
        torch.testing.assert_close(
            b.model_state[key], value, rtol=1e-4, atol=1e-4, msg=lambda m, key=key: f"{key}: {m}"
        )
    (ha,), (hb,) = a.training["history"], b.training["history"]
    assert hb["train_loss"] == pytest.approx(ha["train_loss"], rel=1e-5)
    assert hb["train_accuracy"] == ha["train_accuracy"]
    for key in ("accuracy", "backbone_accuracy", "transmitted_bits", "payload_shape"):
        assert parallel[key] == single[key], key
    assert parallel["energy"]["syops"] == pytest.approx(single["energy"]["syops"], rel=1e-3)


def test_a_failing_rank_is_the_trials_error_with_its_type(backbone, tmp_path):
    bad = job(
        backbone,
        tmp_path / "t.safetensors",
        ranks=2,
        settings={**SETTINGS.to_dict(), "dataset": "cifar10"},
        data_dir=str(tmp_path / "nowhere"),
    )
    with pytest.raises(DataError, match=r"^rank [01] of 2: .*cifar") as caught:
        run_trial(bad)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "t.safetensors").exists()


def test_an_interrupted_trial_stops_its_ranks(backbone, tmp_path):
    """A KeyboardInterrupt in the trial while its ranks train (Ctrl-C, or Ray's cancel in a
    worker that lives on): the ranks are stopped before the trial unwinds."""
    script = _trial_script(backbone, tmp_path)
    script += (
        "\nexcept KeyboardInterrupt:\n"
        "    print('unwound', flush=True)\n"
        "    time.sleep(120)  # a Ray worker lives on after a cancelled task\n"
    )
    trial = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        ranks = _wait_for_children(trial.pid, 2)
        trial.send_signal(signal.SIGINT)
        assert trial.stdout.readline() == "unwound\n"
        assert wait_gone(ranks, seconds=5) == [] and trial.poll() is None
    finally:
        trial.kill()
        trial.wait()


def test_a_rank_dies_with_its_trials_worker(backbone, tmp_path):
    """The worker SIGKILLed (a node lost, a cancel past its grace): its ranks die too."""
    trial = subprocess.Popen([sys.executable, "-c", _trial_script(backbone, tmp_path) + "\nfinally: pass\n"])
    ranks = _wait_for_children(trial.pid, 2)
    trial.kill()
    trial.wait()
    assert wait_gone(ranks, seconds=5) == []


def _trial_script(backbone, tmp_path) -> str:
    """A long trial on 2 ranks (about a minute: the ranks would outlive the test's waits)."""
    spec = tmp_path / "job.json"
    long = {**SETTINGS.to_dict(), "epochs": 40}
    spec.write_text(json.dumps(job(backbone, tmp_path / "t.safetensors", ranks=2, settings=long).to_dict()))
    return (
        "import json, time\n"
        "from sbn.sweep import run_trial\n"
        "from sbn.sweep.trial import TrialJob\n"
        "try:\n"
        f"    run_trial(TrialJob.from_dict(json.loads(open({str(spec)!r}).read())))"
    )


def _wait_for_children(pid: int, count: int, timeout: float = 60) -> list[int]:
    """The trial's rank processes, once they have started training (joined the group)."""
    from sbn.targets.lava.runtime import child_pids

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [c for c in child_pids(pid) if "sbn.sweep.trial_ranks" in cmdline(c)]
        if len(children) == count:
            time.sleep(3)  # past their imports: inside the process group
            return children
        time.sleep(0.2)
    raise AssertionError(f"the trial started no {count} ranks in {timeout} s")


@pytest.fixture(scope="module")
def ray_with_two_gpus():
    """A local Ray that claims 2 GPUs: Ray hands a trial its 2, the worker's torch finds no
    CUDA, so ``--device auto`` trains the ranks on this CPU (gloo)."""
    import ray

    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_a_sweep_with_two_gpus_per_trial_trains_each_on_two_ranks(ray_with_two_gpus, backbone, tmp_path):
    from sbn.sweep import make_sweep_plan, run_sweep

    plan = make_sweep_plan(
        backbone, train=SETTINGS, splits="RB2", channels="4,8", strides="1", time_steps="2"
    )
    run = run_sweep(tmp_path / "sweep", plan, workers=2, gpus_per_trial=2)
    # Ray has 2 GPUs: the trials take turns, each on both
    assert [(r["id"], r["status"], r["ranks"]) for r in sorted(run.ran, key=lambda r: r["id"])] == [
        ("RB2-c4-s1-T2", "ok", 2),
        ("RB2-c8-s1-T2", "ok", 2),
    ]
