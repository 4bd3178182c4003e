"""``sbn train --resume`` with a checkpoint whose ``training`` metadata is damaged, or that
another config or other settings wrote: one line naming the file (and the field), exit code
1, no traceback, and no banner or progress bar before it."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tiny_run import ONE_QUICK_EPOCH

from sbn import checkpoint as ckpt_io
from sbn.data import load_dataset
from sbn.errors import CheckpointError
from sbn.models import ModelConfig
from sbn.train import TrainSettings, check_resume, train

# what the CLI arguments below give (the CLI's defaults otherwise)
TINY = ModelConfig(num_classes=10, width=0.0625, layers=(1, 1, 1, 1), time_steps=1)
QUICK = TrainSettings(epochs=1, batch_size=32, train_samples=64, test_samples=32)
ARGS = [
    "--layers",
    "1,1,1,1",
    "--T",
    "1",
    *ONE_QUICK_EPOCH,
    "--batch-size",
    "32",
    "--device",
    "cpu",
]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", train=True), load_dataset("digits", train=False)


@pytest.fixture(scope="module")
def finished(digits, tmp_path_factory):
    """A one-epoch run of the tiny backbone, finished."""
    out = tmp_path_factory.mktemp("run") / "run.safetensors"
    train(TINY, QUICK, *digits, out)
    return out


def with_training(src, dst, change) -> None:
    """Copy the checkpoint ``src`` to ``dst`` with its ``training`` metadata replaced by
    ``change(training)``."""
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    meta["training"] = json.dumps(change(json.loads(meta["training"])))
    save_file(load_file(str(src)), str(dst), metadata=meta)


def refused(run_sbn, *args, match: str) -> str:
    """The contract for bad input: exit code 1, one line ``error: ...`` holding ``match``."""
    code, _, err = run_sbn(*args)
    lines = err.strip().splitlines()
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert match in lines[0], lines[0]
    return lines[0]


def setting(key, value):
    def change(t):
        t["settings"][key] = value

    return change


def history(key, value):
    def change(t):
        t["history"][0][key] = value

    return change


DAMAGE = {
    "training null": (lambda t: [None], "metadata key 'training' is null; it must be a JSON object"),
    "training a list": (lambda t: [[1]], "metadata key 'training' is [1]; it must be a JSON object"),
    "training empty": (lambda t: [{}], "its metadata holds no training state"),
    "settings a list": (
        lambda t: t.update(settings=[1]),
        "training.settings is [1]; it must be a JSON object",
    ),
    "settings null": (lambda t: t.update(settings=None), "training.settings is null"),
    "settings missing": (lambda t: t.pop("settings") and None, "training.settings is missing"),
    "lr a string": (setting("lr", "x"), 'training.settings.lr is "x"; it must be a finite number'),
    "epochs a float": (setting("epochs", 1.5), "training.settings.epochs is 1.5; it must be a whole number"),
    "augment a number": (setting("augment", 1), "training.settings.augment is 1; it must be true or false"),
    "samples a string": (setting("train_samples", "64"), 'training.settings.train_samples is "64"'),
    "epochs 0": (setting("epochs", 0), "training.settings: epochs must be >= 1, got 0"),
    "unknown setting": (setting("colour", "red"), "training.settings has an unknown key 'colour'"),
    "history a number": (lambda t: t.update(history=5), "training.history is 5; it must be a list of the 1"),
    "history empty": (lambda t: t.update(history=[]), "training.history is []"),
    "history entry a string": (lambda t: t.update(history=["x"]), 'training.history[0] is "x"'),
    "history seconds": (history("seconds", "x"), 'training.history[0].seconds is "x"; it must be a finite'),
    "history epoch": (history("epoch", 2), "training.history[0].epoch is 2; it must be 1"),
    "history key missing": (lambda t: t["history"][0].pop("train_loss") and None, "training.history[0] is"),
    "epoch a string": (lambda t: t.update(epoch="x"), 'training.epoch is "x"; it must be a whole number'),
    "epoch a float": (lambda t: t.update(epoch=1.0), "training.epoch is 1.0"),
    "epoch past the run": (
        lambda t: t.update(epoch=3),
        "training.epoch is 3; it must be a whole number from 1",
    ),
    "epoch missing": (lambda t: t.pop("epoch") and None, "training.epoch is missing"),
    "optimizer missing": (lambda t: t.pop("optimizer") and None, "training.optimizer is missing"),
    "param groups": (
        lambda t: t["optimizer"].update(param_groups="x"),
        'training.optimizer.param_groups is "x"',
    ),
    "optimizer scalars": (lambda t: t["optimizer"].update(scalars=[1]), "training.optimizer.scalars is [1]"),
    # torch takes any value on load and fails at the first step, deep in its update
    "group lr a string": (
        lambda t: t["optimizer"]["param_groups"][0].update(lr="x"),
        'training.optimizer.param_groups[0].lr is "x"; an optimiser setting is a finite number',
    ),
    "group betas an object": (
        lambda t: t["optimizer"]["param_groups"][0].update(betas={"a": 1}),
        'training.optimizer.param_groups[0].betas is {"a": 1}',
    ),
    "reference a list": (lambda t: t.update(reference=[1]), "training.reference is [1]"),
    "backbone accuracy": (
        lambda t: t.update(reference={"backbone_accuracy": "x"}),
        'training.reference.backbone_accuracy is "x"',
    ),
    "grad scaler": (lambda t: t.update(grad_scaler=3), "training.grad_scaler is 3"),
    "seconds a string": (lambda t: t.update(seconds="x"), 'training.seconds is "x"; it must be a finite'),
}


def _apply(change):
    """``training`` as ``change`` leaves it: changes return [new value] to replace all of it."""

    def apply(training):
        result = change(training)
        return result[0] if isinstance(result, list) else training

    return apply


@pytest.mark.parametrize("change, message", DAMAGE.values(), ids=DAMAGE.keys())
def test_resume_with_damaged_training_state_is_one_line(finished, tmp_path, run_sbn, change, message):
    out = tmp_path / "damaged.safetensors"
    with_training(finished, out, _apply(change))
    before = out.read_bytes()
    line = refused(run_sbn, "train", "--out", out, *ARGS, "--resume", match=message)
    assert line.startswith(f"error: {out}: "), line
    assert out.read_bytes() == before


@pytest.mark.parametrize("name", ["training null", "settings a list", "history a number", "epoch a string"])
def test_library_resume_with_damaged_training_state(finished, digits, tmp_path, name):
    """The sweep's trials resume through ``train`` itself, not the CLI."""
    change, message = DAMAGE[name]
    out = tmp_path / "damaged.safetensors"
    with_training(finished, out, _apply(change))
    with pytest.raises(CheckpointError) as caught:
        train(TINY, QUICK, *digits, out, resume=True)
    assert str(caught.value).startswith(f"{out}: ") and message in str(caught.value)


def test_a_sound_state_resumes(finished, tmp_path, run_sbn):
    state = check_resume(finished, TINY, QUICK)
    assert state.epoch == 1 and [h.epoch for h in state.history] == [1]
    assert ckpt_io.load(finished, tensors=False).model_state == {}
    out = tmp_path / "again.safetensors"
    shutil.copy(finished, out)
    code, _, err = run_sbn("train", "--out", out, *ARGS, "--resume", "--format", "json")
    assert code == 0, err


@pytest.mark.parametrize(
    "change, message",
    [
        (["--epochs", "2"], "cannot resume with other settings (changed: epochs)"),
        (["--lr", "0.01"], "cannot resume with other settings (changed: lr)"),
        (["--T", "2"], "cannot resume: it was trained with another model config"),
    ],
)
def test_resume_that_does_not_match_is_refused_before_the_banner(
    finished, tmp_path, run_sbn, change, message
):
    out = tmp_path / "other.safetensors"
    shutil.copy(finished, out)
    before = out.read_bytes()
    refused(run_sbn, "train", "--out", out, *ARGS, *change, "--resume", match=message)
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("maximize", 0, "param_groups[0].maximize is 0; this optimiser's is false"),
        ("lr", True, "param_groups[0].lr is true; this optimiser's is 0.1"),
        ("momentum", [0.9], "param_groups[0].momentum is [0.9]; this optimiser's is 0.9"),
    ],
)
def test_a_setting_of_another_kind_is_refused_on_restore(key, value, message):
    """Sound JSON of the wrong kind for the optimiser's own setting: refused by name instead
    of a TypeError at the first step."""
    from sbn.train_optim import restore_optimizer

    weight = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1, momentum=0.9)
    groups = json.loads(json.dumps(optimizer.state_dict()["param_groups"]))
    restore_optimizer(optimizer, {}, {"param_groups": groups})  # as saved: fine
    groups[0][key] = value
    with pytest.raises(CheckpointError, match=re.escape(message)):
        restore_optimizer(optimizer, {}, {"param_groups": groups})
