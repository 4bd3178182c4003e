"""The prepared GPU benchmark: it must run the first time a GPU is lent, so its paths are
exercised here on the CPU (a check of the script, not a figure)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[2] / "examples" / "benchmarks" / "bench_gpu.py"


def run(tmp_path, *args):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", str(out), *args], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(out.read_text())


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: the script measures")
def test_without_a_gpu_it_says_so_and_exits_0(tmp_path):
    done, report = run(tmp_path)
    assert "no CUDA GPU here" in done.stdout
    assert report["schema"] == "sbn.bench-gpu/1" and "nothing measured" in report["skipped"]


@pytest.mark.slow
def test_every_path_runs_on_a_tiny_model(tmp_path):
    """All modes (the fused ones compile: minutes the first time), the input pipeline and
    DDP scaling over 2 gloo ranks."""
    _, report = run(tmp_path, "--device", "cpu", "--smoke")
    modes = {(r["mode"], r["batch"]) for r in report["rows"]}
    assert modes == {
        (m, b)
        for m in ("eager-fp32", "eager-bf16", "fused-fp32", "fused-bf16", "channels-last-bf16")
        for b in (4, 8)
    }
    assert all(r["train_images_per_s"] > 0 for r in report["rows"])
    assert all(
        "lif_loop_share_of_train" in r for r in report["rows"] if r["mode"].startswith(("eager", "channels"))
    )
    assert report["input_pipeline_images_per_s"] > 0
    assert [r["ranks"] for r in report["ddp"]] == [1, 2]


CHECK = SCRIPT.with_name("gpu_check.sh")


def test_the_device_check_installs_the_package_without_its_pins_and_runs(tmp_path):
    """gpu_check.sh, as on the device machine but with this interpreter and no GPU: a
    non-editable install from the listed packages (a subpackage missing from pyproject's
    list fails here), the GPU tests collected from that copy, the benchmark's no-GPU exit."""
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        ["bash", str(CHECK), str(out), "0"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "SBN_CHECK_PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    versions = (out / "versions.txt").read_text()
    assert f"python {sys.version.split()[0]}" in versions and f"torch {torch.__version__}" in versions
    installed = versions.split("sbn 0.1.0 ")[1].strip()
    assert not installed.startswith(str(SCRIPT.parents[2])), "imported the working tree, not the install"
    assert not Path(installed).exists(), "the temporary install outlived the check"
    log = (out / "test_gpu.log").read_text()
    assert ("5 skipped" in log) != torch.cuda.is_available(), log
    assert "no CUDA GPU here" in (out / "bench_gpu.log").read_text() or torch.cuda.is_available()
