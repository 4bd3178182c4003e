"""Run by ``torchrun --nproc-per-node 2`` from test_ddp.py: two gloo ranks on the CPU.

    ddp_worker.py OUT    synchronised tdBN on rank shares of one batch, then
                         sbn.train on 2 ranks: 1 epoch, then resumed to 2

Each rank saves what it computed under OUT; the test compares with one process.
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from sbn.data import load_dataset
from sbn.data.loader import Shard
from sbn.models import ModelConfig
from sbn.train_ddp import process_group, ranks_from_environment
from sbn.train_sync_norm import SyncTdBatchNorm

# the training case, shared with the single-process reference in test_ddp.py; SGD because
# Adam's normalised step turns float-noise gradients into lr-sized differences, and a small
# lr because the head norm makes the gradients into the body ~10x larger: at lr 0.05 a few
# spikes flip between the two runs' float roundings and the nets drift apart by ~1e-2
CONFIG = ModelConfig(num_classes=10, width=0.0625, layers=(1, 1, 1, 1), time_steps=2)
SETTINGS_KW = dict(
    epochs=2, batch_size=30, train_samples=75, test_samples=20, optimizer="sgd", lr=0.01, augment=True
)


def main() -> None:
    out = Path(sys.argv[1])
    ranks = ranks_from_environment()
    torch.set_num_threads(1)
    with process_group(ranks, torch.device("cpu")):
        _norm(ranks, out)
        _train(ranks, out)


def norm_inputs():
    """The full batch every rank draws: x [T=2, B=5, C=4, 3, 3], upstream gradient alike."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 4, 3, 3, generator=g) * 2 + 1
    grad = torch.randn(2, 5, 4, 3, 3, generator=g)
    return x, grad


def make_norm(cls):
    torch.manual_seed(1)
    bn = cls(4, alpha=0.7, v_th=1.5)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return bn


def _norm(ranks, out: Path) -> None:
    x, grad = norm_inputs()
    rows = Shard(ranks.rank, ranks.world_size).rows(x.shape[1])  # 3 and 2 samples
    bn = make_norm(SyncTdBatchNorm)
    mine = x[:, rows].clone().requires_grad_()
    y = bn(mine)
    (y * grad[:, rows]).sum().backward()
    for p in (bn.weight, bn.bias):
        dist.all_reduce(p.grad)  # what DDP does (it then divides by the ranks)
    bn.momentum = None
    bn(x[:, rows] * 0.5)  # a second batch, cumulative average
    torch.save(
        {
            "rows": (rows.start, rows.stop),
            "y": y.detach(),
            "x_grad": mine.grad,
            "w_grad": bn.weight.grad,
            "b_grad": bn.bias.grad,
            "mean": bn.running_mean,
            "var": bn.running_var,
        },
        out / f"norm{ranks.rank}.pt",
    )


def _train(ranks, out: Path) -> None:
    from sbn import checkpoint as ckpt_io
    from sbn.train import Runtime, TrainSettings, train

    data = load_dataset("digits", train=True), load_dataset("digits")
    runtime = Runtime(ranks=ranks)
    part = out / "part.safetensors"
    one = TrainSettings(**{**SETTINGS_KW, "epochs": 1})
    train(CONFIG, one, *data, part, runtime=runtime)
    if ranks.main:  # "interrupted" after epoch 1 of the 2-epoch run
        saved = ckpt_io.load(part)
        saved.training["settings"]["epochs"] = SETTINGS_KW["epochs"]
        ckpt_io.save(part, saved)
    dist.barrier()
    result = train(CONFIG, TrainSettings(**SETTINGS_KW), *data, part, resume=True, runtime=runtime)
    if ranks.main:
        torch.save({"history": [h.__dict__ for h in result.history]}, out / "history.pt")


if __name__ == "__main__":
    main()
