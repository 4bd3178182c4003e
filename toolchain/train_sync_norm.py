"""tdBN with statistics over all ranks of a data-parallel run (SyncBatchNorm semantics).

With each rank holding a share of the batch, a plain tdBN would normalise with its share's
mean and variance; the method's tdBN takes them per channel over the whole batch, all T
time steps, H and W. Here each rank sums its share, one ``all_reduce`` adds the sums, and
every rank normalises with the global statistics and updates identical running averages.
The all-reduce is torch's functional collective (``_functional_collectives.all_reduce``,
which torch names as the successor of ``torch.distributed.nn.functional.all_reduce``); it
is differentiable (its backward all-reduces the gradients), so the input gradients are
those of the full-batch tdBN too: the tests compare two gloo ranks with one process on the
whole batch.

The sums are taken around the running mean (the same on every rank), not around zero:
``E[(x-c)^2] - E[x-c]^2`` loses far less to cancellation when ``c`` is near the mean,
and one collective per layer serves both moments. ``torch.nn.SyncBatchNorm`` is not used
because it runs only on GPUs and knows nothing of tdBN's ``alpha * V_th`` or its layout.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from sbn.models.norm import TdBatchNorm


class SyncTdBatchNorm(TdBatchNorm):
    """``TdBatchNorm`` whose training-mode statistics are global over the process group.

    Same parameters, buffers and state-dict keys; outside training, or without an
    initialised process group of more than one rank, it is exactly ``TdBatchNorm``.
    """

    process_group = None  # the default group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (
            self.training
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size(self.process_group) > 1
        ):
            return super().forward(x)
        from torch.distributed._functional_collectives import all_reduce

        t, b = x.shape[:2]
        flat = x.flatten(0, 1).float()  # (T*B, C, H, W); statistics in fp32 under autocast too
        c = flat.shape[1]
        shift = self.running_mean.detach().float().view(1, c, 1, 1)
        centred = flat - shift
        count = torch.tensor([flat.numel() // c], dtype=torch.float32, device=flat.device)
        local = torch.cat([centred.sum((0, 2, 3)), centred.square().sum((0, 2, 3)), count])
        group = self.process_group or dist.group.WORLD
        total = all_reduce(local, "sum", group)  # [2C + 1], summed over ranks
        n = total[-1].detach()
        mean_c = total[:c] / n  # E[x - shift]
        var = (total[c : 2 * c] / n - mean_c.square()).clamp_min(0.0)  # biased, normalises
        mean = mean_c + shift.view(c)
        self._update_running(mean.detach(), var.detach(), float(n))
        scale = self.weight * (self.alpha * self.v_th) * torch.rsqrt(var + self.eps)
        y = (flat - mean.view(1, c, 1, 1)) * scale.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y.to(x.dtype).unflatten(0, (t, b))

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, var: torch.Tensor, n: float) -> None:
        """As ``F.batch_norm`` does: momentum (or cumulative) average, unbiased variance."""
        self.num_batches_tracked.add_(1)
        factor = self.momentum
        if factor is None:
            factor = 1.0 / float(self.num_batches_tracked)
        unbiased = var * (n / max(n - 1.0, 1.0))
        self.running_mean.mul_(1.0 - factor).add_(mean, alpha=factor)
        self.running_var.mul_(1.0 - factor).add_(unbiased, alpha=factor)


def _swap_norms(model: nn.Module, source: type, target: type) -> nn.Module:
    """Replace every module of exactly type ``source`` by a ``target`` holding the same
    parameter and buffer tensors (so an optimiser built before or after sees the same)."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if type(child) is source:
                new = target.__new__(target)
                new.__dict__.update(child.__dict__)  # same params, buffers, hooks, mode
                setattr(parent, name, new)
    return model


def sync_norms(model: nn.Module) -> nn.Module:
    """Every tdBN of ``model`` takes global statistics (in place; returns ``model``)."""
    return _swap_norms(model, TdBatchNorm, SyncTdBatchNorm)


def unsync_norms(model: nn.Module) -> nn.Module:
    """Back to plain tdBN (for the model a run returns)."""
    return _swap_norms(model, SyncTdBatchNorm, TdBatchNorm)
