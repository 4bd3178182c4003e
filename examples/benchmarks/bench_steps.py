"""Timed training and inference steps, shared by the benchmark scripts.

Torch only (no ``sbn`` import), so that the spikingjelly worker, which runs in its own
Python 3.11 venv, times its net with exactly the same step as ours.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

Step = Callable[[], None]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def seconds(step: Step, device: str) -> float:
    """Wall time of one call of ``step``."""
    sync(device)
    t0 = time.perf_counter()
    step()
    sync(device)
    return time.perf_counter() - t0


def timed(step: Step, repeats: int, device: str) -> float:
    """Median seconds over ``repeats`` calls, after one warm-up (allocator, autograd graph,
    kernels)."""
    step()
    return statistics.median(seconds(step, device) for _ in range(repeats))


def train_step(
    model: torch.nn.Module,
    forward: Callable[[torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
) -> Step:
    """Forward (``forward(x)`` gives logits ``(B, classes)``), cross-entropy, backward, one
    optimiser step."""

    def step() -> None:
        model.train()
        loss = F.cross_entropy(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def infer_step(
    model: torch.nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> Step:
    """An eval-mode forward without autograd."""

    @torch.no_grad()
    def step() -> None:
        model.eval()
        forward(x)

    return step
