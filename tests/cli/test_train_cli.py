"""``sbn train`` through the installed ``sbn`` script: the two steps, the summary, errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_run import ONE_QUICK_EPOCH, TINY_MODEL

from sbn import checkpoint as ckpt_io

SBN = Path(sys.executable).parent / "sbn"
QUICK = [*TINY_MODEL, "--T", "2", *ONE_QUICK_EPOCH]


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
    step2 = sbn(
        "train",
        "--from",
        backbone,
        "--split",
        "RB4",
        "--channels",
        "4",
        "--stride",
        "2",
        "--out",
        tuned,
        *ONE_QUICK_EPOCH,
        "--summary",
        tmp_path / "summary.json",
    )
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
    more = sbn(
        "train",
        "--out",
        backbone,
        *TINY_MODEL,
        "--T",
        "2",
        "--epochs",
        "2",
        "--train-samples",
        "64",
        "--test-samples",
        "32",
        "--resume",
        "--format",
        "json",
    )
    assert more.returncode == 1 and "other settings (changed: epochs)" in more.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--T", "9"], "Invalid value for '--T'"),
        (["--split", "RB3"], "--split/--channels fine-tune a bottleneck: they need --from BACKBONE"),
        (["--layers", "3,4,6"], "expected four positive block counts"),
        (["--from", "missing.safetensors", "--split", "RB1", "--channels", "4"], "no such checkpoint file"),
        (["--dataset", "cifar100"], "cifar100 needs --data-dir"),
        (["--dataset", "cifar10", "--data-dir", "nowhere"], "nowhere/cifar-10-batches-py: not found"),
    ],
)
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
    result = sbn(
        "train", "--from", backbone, "--split", "RB5", "--channels", "4", "--out", tmp_path / "y.safetensors"
    )
    assert result.returncode == 1
    assert result.stderr == "error: unknown split 'RB5': valid splits are RB1..RB4\n"


def test_help_lists_subcommands():
    result = sbn("--help")
    assert result.returncode == 0
    for name in ("train", "energy", "bits", "map"):
        assert f"  {name} " in result.stdout


def test_bare_sbn_prints_its_help():
    bare, helped = sbn(), sbn("--help")
    assert (bare.returncode, bare.stderr) == (0, "")  # was the whole help as one `error:` line
    assert bare.stdout == helped.stdout


# ---- where and how it runs: device, precision, recipe, data-parallel launch ------------------
def _in_process(args, capsys):
    """``sbn train ARGS`` through sbn.cli.run, the script's own error path; (code, out, err)."""
    from sbn.cli import cli, run

    try:
        run(cli, ["train", *map(str, args)])
        code = 0
    except SystemExit as exited:
        code = exited.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param(
            ["--device", "cuda"],
            "--device cuda: torch sees no CUDA GPU on this machine",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here"),
        ),
        (["--device", "tpu"], "unknown device 'tpu': use auto, cpu, cuda or cuda:N"),
        (
            ["--device", "cpu", "--precision", "fp16"],
            "--precision fp16 cannot run on cpu (fp16 needs a CUDA GPU); use fp32 or bf16",
        ),
        (["--precision", "fp8"], "Invalid value for '--precision'"),
        (["--recipe", "cifar100-resnet50", "--from", "b.safetensors"], "--recipe sets up step 1"),
        (["--recipe", "imagenet"], "Invalid value for '--recipe'"),
    ],
)
def test_runtime_refusals_one_line_nothing_written(tmp_path, capsys, args, message):
    out = tmp_path / "runs" / "x.safetensors"
    code, _, err = _in_process(["--out", out, *args], capsys)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert not out.parent.exists()


def test_an_existing_out_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "x.safetensors"
    out.write_bytes(b"an earlier run")
    code, stdout, err = _in_process(["--out", out, "--epochs", "1", "--width", "0.0625"], capsys)
    assert (code, stdout) == (1, "")
    assert err == f"error: {out} exists: pass --resume to continue it, or choose another --out\n"
    assert out.read_bytes() == b"an earlier run"


def test_a_half_set_launch_environment_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    code, _, err = _in_process(["--out", tmp_path / "x.safetensors", "--device", "cpu"], capsys)
    assert code == 1 and "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT missing" in err
    assert "torchrun --nproc-per-node N -m sbn train" in err


def test_recipe_fills_what_the_command_line_leaves(tmp_path, capsys):
    import pickle

    import numpy as np

    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("train", 24), ("test", 8)):
        batch = {
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    code, out, err = _in_process(
        [
            "--recipe",
            "cifar100-resnet50",
            "--data-dir",
            tmp_path,
            "--device",
            "cpu",
            "--width",
            "0.0625",
            "--layers",
            "1,1,1,1",
            "--T",
            "2",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--out",
            tmp_path / "r.safetensors",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["recipe"] == "cifar100-resnet50"
    # given on the command line: kept
    assert (summary["config"]["width"], summary["config"]["layers"], summary["config"]["time_steps"]) == (
        0.0625,
        [1, 1, 1, 1],
        2,
    )
    assert (summary["settings"]["batch_size"], summary["settings"]["epochs"]) == (8, 1)
    # left at their defaults: the recipe's
    s = summary["settings"]
    assert (s["dataset"], s["optimizer"], s["lr"], s["weight_decay"], s["augment"]) == (
        "cifar100",
        "sgd",
        0.1,
        5e-4,
        True,
    )
    assert summary["config"]["num_classes"] == 100


def test_torchrun_two_cpu_ranks_through_the_cli(tmp_path):
    out = tmp_path / "ddp.safetensors"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "sbn",
            "train",
            "--device",
            "cpu",
            "--out",
            out,
            *QUICK,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)  # one summary: only rank 0 prints
    assert summary["runtime"]["world_size"] == 2 and summary["epochs"] == 1
    assert ckpt_io.load(out).training["epoch"] == 1
