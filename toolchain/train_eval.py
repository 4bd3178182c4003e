"""Evaluation and precise-BN recalibration, on the run's device and ranks, in fp32.

Both run in IEEE fp32 whatever the training precision (no autocast, no TF32): the accuracy
a run reports is that of the model as it is exported and simulated, and the statistics the
thresholds sit on are estimated in the arithmetic the exported model uses.
"""

from __future__ import annotations

import math

import torch

from sbn.data import ImageDataset
from sbn.data.loader import DeviceData
from sbn.train_ddp import sum_over_ranks
from sbn.train_precision import ieee_fp32
from sbn.train_runtime import Runtime


@torch.no_grad()
def recalibrate_norm(
    model: torch.nn.Module,
    data: ImageDataset,
    batch_size: int,
    samples: int = 512,
    runtime: Runtime | None = None,
) -> None:
    """Re-estimate every norm layer's running statistics for the current weights.

    The running averages collected during an epoch mix statistics of weights that have
    since moved; a deep spiking net is sensitive to that (each threshold sits on a
    normalised value). One pass over ``samples`` training images in train mode with a
    cumulative average ("precise BN", Wu & Johnson 2021) fixes it; weights are untouched.
    Under data parallelism each rank runs its share of every batch and the synchronised
    tdBN averages over all of them, so every rank ends with the same statistics.
    """
    runtime = runtime or Runtime()
    # a norm whose forward is replaced on the instance is folded into its convolution by the
    # quantisation-aware context (sbn.qat): it passes its input through, its statistics frozen
    norms = [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and "forward" not in m.__dict__
    ]
    if not norms:
        return
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the recalibration batches
    model.train()
    loader = DeviceData(data.subset(samples), runtime.device, runtime.ranks.shard)
    with ieee_fp32():
        for batch in loader.batches(batch_size):
            model(runtime.inputs(batch.images))
        # The head norm standardises pooled spike rates whose spread is tiny (~0.03), so the
        # small shift between the body's outputs in train mode (batch statistics) and in eval
        # mode (the statistics just estimated) becomes a large one after it: a 4-block net
        # scored 12.5 % in eval mode with 53 % in train mode. So its statistics are taken a
        # second time, from the body as it runs at inference.
        heads = [m for m in _head_norms(model) if m in norms]
        if heads:
            model.eval()
            for m in heads:
                m.reset_running_stats()
                m.train()
            for batch in loader.batches(batch_size):
                model(runtime.inputs(batch.images))
    for m, (momentum, tracked) in zip(norms, saved):
        m.momentum = momentum
        m.num_batches_tracked.copy_(tracked)
    model.train(was_training)


def _head_norms(model: torch.nn.Module) -> list[torch.nn.Module]:
    from sbn.models.resnet import ResNet

    return [m.head_norm for m in model.modules() if isinstance(m, ResNet) and m.head_norm is not None]


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    data: ImageDataset,
    batch_size: int,
    progress=None,
    what: str = "eval",
    runtime: Runtime | None = None,
) -> float:
    """Top-1 accuracy of ``model`` on ``data``, in [0, 1] (each rank its share, summed)."""
    runtime = runtime or Runtime()
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=runtime.device)
    if progress:
        progress.on_eval_start(what, math.ceil(len(data) / batch_size))
    loader = DeviceData(data, runtime.device, runtime.ranks.shard)
    with ieee_fp32():
        for batch in loader.batches(batch_size):
            logits = model(runtime.inputs(batch.images))
            correct += (logits.argmax(1) == batch.labels).sum()  # no sync per batch
            if progress:
                progress.on_eval_batch()
    model.train(was_training)
    (total,) = sum_over_ranks([float(correct)], runtime.ranks, runtime.device)
    return total / max(len(data), 1)
