"""Threshold-dependent batch normalisation (tdBN).

Per channel, statistics over batch, time, height and width together::

    x_hat = alpha * V_th * (x - mean) / sqrt(var + eps);   y = lambda * x_hat + beta

At inference it is a per-channel affine map (``folded()``) that the exporter folds into
the preceding convolution.

Training on channels-last CPU tensors (what the convolutions hand over there,
``sbn.models.layers``) takes the batch statistics from ``channel_statistics`` and normalises
with ``_NormaliseWith`` rather than ``F.batch_norm``: that kernel sums channels-last inputs
in float, and its outputs were 4e-5 off a float64 reference where its NCHW kernel is 5e-7
off, enough to flip spikes that lie a rounding error from the threshold.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TdBatchNorm(nn.BatchNorm2d):
    """tdBN over ``[T, B, C, H, W]``; ``lambda`` and ``beta`` are ``weight`` and ``bias``.

    With ``alpha * v_th == 1`` it is ordinary BatchNorm2d applied to the T*B images, which is
    what the real-valued baseline uses.
    """

    def __init__(
        self,
        num_features: int,
        alpha: float = 1.0,
        v_th: float = 1.0,
        eps: float = 1e-5,
        momentum: float = 0.1,
    ) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.alpha = float(alpha)
        self.v_th = float(v_th)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        flat = x.flatten(0, 1)  # (T*B, C, H, W): statistics over T, B, H, W per channel
        factor = self.momentum
        if self.training:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average, as nn.BatchNorm2d does
                factor = 1.0 / float(self.num_batches_tracked)
            if _channels_last_on_cpu(flat):
                return self._train_channels_last(flat, factor).unflatten(0, (t, b))
        y = F.batch_norm(
            flat,
            self.running_mean,
            self.running_var,
            self.weight * (self.alpha * self.v_th),
            self.bias,
            self.training,
            factor if factor is not None else 0.0,
            self.eps,
        )
        return y.unflatten(0, (t, b))

    def _train_channels_last(self, flat: torch.Tensor, factor: float) -> torch.Tensor:
        """``F.batch_norm`` in training mode, with the statistics summed accurately."""
        with torch.no_grad():
            mean, var = channel_statistics(flat)
            n = flat.numel() // flat.shape[1]
            # as F.batch_norm updates them: momentum average, unbiased variance
            self.running_mean.mul_(1.0 - factor).add_(mean, alpha=factor)
            self.running_var.mul_(1.0 - factor).add_(var * (n / max(n - 1, 1)), alpha=factor)
        weight = self.weight * (self.alpha * self.v_th)
        return _NormaliseWith.apply(flat, weight, self.bias, mean, var, self.eps)

    @torch.no_grad()
    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference-time (scale, shift) per channel: ``y = scale * x + shift``.

        Computed in float64 so that folding adds no more rounding than necessary.
        """
        return self.fold_terms()

    def fold_terms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``folded()`` with gradients to ``weight`` and ``bias`` (the running statistics are
        constants): for training with the norm folded in (``sbn.qat``)."""
        var = self.running_var.double()
        scale = self.weight.double() * (self.alpha * self.v_th) / torch.sqrt(var + self.eps)
        shift = self.bias.double() - self.running_mean.double() * scale
        return scale, shift

    def extra_repr(self) -> str:
        return super().extra_repr() + f", alpha={self.alpha}, v_th={self.v_th}"


def _channels_last_on_cpu(flat: torch.Tensor) -> bool:
    return (
        flat.device.type == "cpu"
        and flat.dtype in (torch.float32, torch.float64)
        and flat.is_contiguous(memory_format=torch.channels_last)
        and not flat.is_contiguous()
    )


#: Elements per slice of ``channel_statistics``' second pass: its temporary stays in cache.
_SLICE = 1 << 18


@torch.no_grad()
def channel_statistics(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and biased variance of a channels-last ``(N, C, H, W)`` tensor.

    Two passes over its ``(N*H*W, C)`` matrix: the mean by ``sum`` (cascade summation,
    accurate), then the squared deviations from it, summed slice by slice so that their
    temporary stays in cache, the slices' sums added in float64. ``torch.var_mean`` is as
    accurate but was 5-10x slower on this layout.
    """
    c = flat.shape[1]
    rows = flat.permute(0, 2, 3, 1).reshape(-1, c)  # a view: channels-last is (N, H, W, C)
    mean = rows.sum(0) / rows.shape[0]
    squares = torch.zeros(c, dtype=torch.float64)
    for part in rows.split(max(1, _SLICE // c)):
        deviation = part - mean
        squares += deviation.mul_(deviation).sum(0)
    return mean, (squares / rows.shape[0]).to(flat.dtype)


class _NormaliseWith(torch.autograd.Function):
    """Training-mode batch norm given the batch's own mean and (biased) variance: the forward
    is ``F.batch_norm``'s affine pass, the backward its training-mode backward (gradients
    through the statistics included), so only the summation of the statistics differs."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, var, eps: float):
        invstd = torch.rsqrt(var + eps)
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.eps = eps
        return F.batch_norm(x, mean, var, weight, bias, False, 0.0, eps)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, mean, invstd = ctx.saved_tensors
        needs = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]]
        gx, gw, gb = torch.ops.aten.native_batch_norm_backward(
            grad_out, x, weight, None, None, mean, invstd, True, ctx.eps, needs
        )
        return gx, gw, gb, None, None, None
