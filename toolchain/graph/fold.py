"""Fold an inference-time tdBN into the convolution before it, in float64.

tdBN at inference is ``y = scale * x + shift`` per output channel (``TdBatchNorm.folded``,
alpha * V_th included), so ``bn(conv(x)) = conv'(x)`` with every output channel's kernel
multiplied by ``scale`` and bias ``scale * b + shift``.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from sbn.models.norm import TdBatchNorm


def fold_conv(conv: nn.Conv2d | nn.ConvTranspose2d, bn: TdBatchNorm | None) -> tuple[np.ndarray, np.ndarray]:
    """(weight, bias) in float64 of ``bn(conv(x))``; the conv's own layout is kept:
    Conv2d (O, C/groups, kh, kw), ConvTranspose2d (C, O/groups, kh, kw)."""
    weight = conv.weight.detach().double().cpu().numpy()
    transposed = isinstance(conv, nn.ConvTranspose2d)
    out_channels = conv.out_channels
    bias = conv.bias.detach().double().cpu().numpy() if conv.bias is not None else np.zeros(out_channels)
    if bn is None:
        return weight.copy(), bias
    scale, shift = (t.cpu().numpy() for t in bn.folded())
    if transposed:
        groups = conv.groups
        # output channel o sits at [o // per, o % per] of (groups, C/groups, O/groups, ...)
        per = out_channels // groups
        w = weight.reshape(groups, -1, per, *weight.shape[2:])
        w = w * scale.reshape(groups, 1, per, 1, 1)
        weight = w.reshape(weight.shape)
    else:
        weight = weight * scale.reshape(-1, 1, 1, 1)
    return weight, scale * bias + shift
