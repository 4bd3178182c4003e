"""Threshold-dependent batch normalisation (tdBN).

Per channel, statistics over batch, time, height and width together::

    x_hat = alpha * V_th * (x - mean) / sqrt(var + eps);   y = lambda * x_hat + beta

At inference it is a per-channel affine map (``folded()``) that the exporter folds into
the preceding convolution.
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
