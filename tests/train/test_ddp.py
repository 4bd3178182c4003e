"""Data parallelism on the CPU: two gloo ranks started by torchrun against one process.

The batch of 75 images in batches of 30 leaves a last batch of 15, split 8 + 7: shares of
unequal size, which the loss scaling and the synchronised tdBN must both get right.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sbn import checkpoint as ckpt_io
from sbn.data import load_dataset
from sbn.errors import ConfigError
from sbn.models.norm import TdBatchNorm
from sbn.train import TrainSettings, train
from sbn.train_ddp import Ranks, rank_device, ranks_from_environment

WORKER = Path(__file__).with_name("ddp_worker.py")
_spec = importlib.util.spec_from_file_location("ddp_worker", WORKER)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """The folder where both ranks of one torchrun launch left their results."""
    out = tmp_path_factory.mktemp("ddp")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            str(WORKER),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=WORKER.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # DDP's "grad strides do not match" for 1x1 kernels (same bytes) used to fill the log
    assert "Warning" not in done.stderr, done.stderr[-3000:]
    return out


def test_synchronised_tdbn_equals_the_full_batch(two_ranks):
    x, grad = worker.norm_inputs()
    bn = worker.make_norm(TdBatchNorm)
    leaf = x.clone().requires_grad_()
    y = bn(leaf)
    (y * grad).sum().backward()
    bn.momentum = None
    bn(x * 0.5)
    ranks = [torch.load(two_ranks / f"norm{r}.pt") for r in range(2)]
    assert [r["rows"] for r in ranks] == [(0, 3), (3, 5)]
    for r in ranks:
        rows = slice(*r["rows"])
        torch.testing.assert_close(r["y"], y.detach()[:, rows], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(r["x_grad"], leaf.grad[:, rows], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(r["w_grad"], bn.weight.grad, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(r["b_grad"], bn.bias.grad, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(r["mean"], bn.running_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(r["var"], bn.running_var, rtol=1e-5, atol=1e-6)


def test_two_ranks_train_and_resume_like_one_process(two_ranks, tmp_path):
    data = load_dataset("digits", train=True), load_dataset("digits")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank: two spinning OpenMP threads on a busy 2-core CI
    try:  # machine are 20x slower than one
        single = train(
            worker.CONFIG, TrainSettings(**worker.SETTINGS_KW), *data, tmp_path / "single.safetensors"
        )
    finally:
        torch.set_num_threads(threads)
    parallel = ckpt_io.load(two_ranks / "part.safetensors")
    assert parallel.training["epoch"] == 2
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(
            parallel.model_state[key], value, rtol=1e-4, atol=1e-4, msg=lambda m, key=key: f"{key}: {m}"
        )
    history = torch.load(two_ranks / "history.pt")["history"]
    for a, b in zip(history, single.history):
        assert a["train_loss"] == pytest.approx(b.train_loss, rel=1e-5)
        assert a["train_accuracy"] == b.train_accuracy and a["test_accuracy"] == b.test_accuracy


@pytest.mark.parametrize(
    "env, message",
    [
        ({"RANK": "0"}, "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT missing"),
        (
            {"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"},
            "inconsistent launch: RANK 2, LOCAL_RANK 0, WORLD_SIZE 2",
        ),
        (
            {"RANK": "a", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"},
            "must be integers",
        ),
    ],
)
def test_a_wrong_launch_is_refused(env, message):
    with pytest.raises(ConfigError, match=message):
        ranks_from_environment(env)


def test_ranks_and_their_gpus(monkeypatch):
    assert ranks_from_environment({}) == Ranks()
    full = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "MASTER_ADDR": "h", "MASTER_PORT": "1"}
    assert ranks_from_environment(full) == Ranks(3, 1, 4)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    cuda = torch.device("cuda", 0)
    assert rank_device(Ranks(3, 1, 4), cuda, "cuda") == torch.device("cuda", 1)
    assert rank_device(Ranks(0, 0, 2), torch.device("cpu"), "cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="under torchrun each process takes GPU LOCAL_RANK"):
        rank_device(Ranks(0, 0, 2), cuda, "cuda:1")
    with pytest.raises(ConfigError, match="LOCAL_RANK 2 but this machine has 2 GPU"):
        rank_device(Ranks(2, 2, 3), cuda, "auto")
