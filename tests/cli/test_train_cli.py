"""``sbn train`` through the installed ``sbn`` script: the two steps, the summary, errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sbn import checkpoint as ckpt_io

SBN = Path(sys.executable).parent / "sbn"
QUICK = ["--layers", "1,1,1,1", "--width", "0.0625", "--T", "2", "--epochs", "1",
         "--train-samples", "64", "--test-samples", "32"]


def sbn(*args):
    return subprocess.run([str(SBN), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_two_steps_and_resume(tmp_path):
    backbone = tmp_path / "backbone.safetensors"
    done = sbn("train", "--out", backbone, *QUICK, "--format", "json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["arch"] == "spiking_resnet50" and summary["epochs"] == 1
    assert "epochs" in done.stderr  # the progress bars go to stderr

    tuned = tmp_path / "sbn.safetensors"
    step2 = sbn("train", "--from", backbone, "--split", "RB4", "--channels", "4", "--stride", "2",
                "--out", tuned, "--epochs", "1", "--train-samples", "64", "--test-samples", "32",
                "--summary", tmp_path / "summary.json")
    assert step2.returncode == 0, step2.stderr
    assert "compression ratio" in step2.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    # RB4 (the last block with layers 1,1,1,1) at width 1/16: 128x4x4; C'=4, stride 2 -> 4*2*2*2 = 32 bits of 128*16*2 = 4,096
    assert (summary["split"], summary["transmitted_bits"], summary["raw_bits"]) == ("RB4", 32, 4096)
    assert summary["compression_ratio"] == 128.0
    assert summary["backbone_sha256"] == ckpt_io.file_sha256(backbone)
    assert ckpt_io.load(tuned).config.bottleneck.split == 4

    again = sbn("train", "--out", backbone, *QUICK)
    assert again.returncode == 1 and "pass --resume" in again.stderr
    more = sbn("train", "--out", backbone, *QUICK[:-6], "--epochs", "2", "--train-samples", "64",
               "--test-samples", "32", "--resume", "--format", "json")
    assert more.returncode == 1 and "other settings (changed: epochs)" in more.stderr


@pytest.mark.parametrize("args, message", [
    (["--T", "9"], "Invalid value for '--T'"),
    (["--split", "RB3"], "--split/--channels fine-tune a bottleneck: they need --from BACKBONE"),
    (["--layers", "3,4,6"], "expected four positive block counts"),
    (["--from", "missing.safetensors", "--split", "RB1", "--channels", "4"], "no such checkpoint file"),
    (["--dataset", "cifar100"], "cifar100 needs --data-dir"),
    (["--dataset", "cifar10", "--data-dir", "nowhere"], "nowhere/cifar-10-batches-py: not found"),
])
def test_bad_arguments_one_line(tmp_path, args, message):
    result = sbn("train", "--out", tmp_path / "x.safetensors", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_unknown_split_lists_valid_ones(tmp_path):
    backbone = tmp_path / "b.safetensors"
    assert sbn("train", "--out", backbone, *QUICK).returncode == 0
    result = sbn("train", "--from", backbone, "--split", "RB5", "--channels", "4", "--out", tmp_path / "y.safetensors")
    assert result.returncode == 1
    assert result.stderr == "error: unknown split 'RB5': valid splits are RB1..RB4\n"


def test_help_lists_subcommands():
    result = sbn("--help")
    assert result.returncode == 0
    for name in ("train", "energy", "bits", "map"):
        assert f"  {name} " in result.stdout
