"""Quantisation-aware fine-tuning: the device half trains through the chip's rounding.

    with fake_quantized(model, get_target("loihi2")):
        ... train / evaluate: the device half computes as ``sbn quantize`` will store it ...

Inside the context every convolution of the device half (stem, RB1..RBk, the encoder) runs
with its tdBN folded in (running statistics, frozen: the same ``scale, shift`` that
``sbn.graph.fold`` uses at export) and its folded weights rounded exactly as
``sbn.targets.quantize`` rounds them: ``w = round(sigma W / 2**e) 2**e / sigma`` with
``sigma = 2**(state_bits - 1 - threshold_shift - headroom) / V_th'`` (``threshold_scale``,
V_th' the exported ``nextafter(V_th, -inf)``) and e the smallest
exponent whose mantissas hold the layer (graded pixels also become ``round(255 x) / 255``).
The rounding passes gradients straight through; the tdBN modules pass their input through
unchanged, so their statistics stay as trained while ``scale`` and ``shift`` still learn.
The model's modules and state-dict keys are untouched: leaving the context restores the
float forward, and the checkpoint exports and quantises as any other.

Where ``quantize`` lowers a neuron's scale (a bias or weight too large for its format at the
default threshold; it says so in a note) this rounding is slightly finer than the chip's.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from sbn.errors import ConfigError
from sbn.models.bottleneck import SplitModel


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)  # half to even, as numpy's rint in sbn.targets.quantize

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def quantize_weight(weight: torch.Tensor, sigma: float, fmt) -> torch.Tensor:
    """``weight`` (float units) rounded to the chip's ``m * 2**e`` at scale ``sigma``."""
    scaled = weight * sigma
    peak = float(scaled.detach().abs().max())
    for e in range(fmt.weight_exp_min, fmt.weight_exp_max + 1):
        m = torch.round(scaled.detach() / 2.0**e)
        if m.numel() == 0 or (m.min() >= fmt.weight_mant_min and m.max() <= fmt.weight_mant_max):
            return _RoundSTE.apply(scaled / 2.0**e) * 2.0**e / sigma
    raise ConfigError(
        f"a weight of {peak:g} integer units exceeds the format (|w| <= "
        f"{fmt.weight_mant_max} * 2**{fmt.weight_exp_max})"
    )


def neuron_scale(v_th: float, fmt, headroom_bits: int) -> float:
    """sigma of a neuron with threshold ``v_th``: ``sbn quantize``'s (``threshold_scale``) for the
    threshold the export writes, ``nextafter(v_th, -inf)``, where no weight or bias caps it."""
    from sbn.targets.quantize import full_threshold, threshold_scale

    return threshold_scale(math.nextafter(v_th, -math.inf), full_threshold(fmt, headroom_bits))[1]


def device_pairs(model: SplitModel) -> list[tuple[nn.Conv2d, nn.Module, nn.Module, bool]]:
    """(conv, its tdBN, the neuron it feeds, graded input?) for every device convolution."""
    if not isinstance(model, SplitModel):
        raise ConfigError(
            "quantisation-aware training needs a SpikeBottleNet (a model with a "
            "split): the device half is what runs on the chip"
        )
    if model.config.kind != "spiking":
        raise ConfigError("quantisation-aware training is for the spiking model")
    b = model.backbone
    pairs = [(b.stem[0], b.stem[1], b.stem[2], True)]
    for block in b.blocks[: model.split]:
        pairs += [
            (block.conv1, block.bn1, block.sn1, False),
            (block.conv2, block.bn2, block.sn2, False),
            (block.conv3, block.bn3, block.sn3, False),
        ]
        if block.downsample is not None:
            pairs.append((block.downsample[0], block.downsample[1], block.sn3, False))
    u = model.bottleneck
    pairs.append((u.enc_conv, u.enc_bn, u.enc_act, False))
    return pairs


def _folded_forward(conv: nn.Conv2d, bn: nn.Module, sigma: float, fmt, graded: bool):
    def forward(x: torch.Tensor) -> torch.Tensor:
        scale, shift = bn.fold_terms()  # float64, differentiable in the tdBN's weight and bias
        weight = conv.weight.double() * scale.reshape(-1, 1, 1, 1)
        if graded:  # pixels as unsigned integers: the weights act on round(255 x)
            x = torch.round(x * fmt.input_max) / fmt.input_max
            weight = quantize_weight(weight / fmt.input_max, sigma, fmt) * fmt.input_max
        else:
            weight = quantize_weight(weight, sigma, fmt)
        t, b = x.shape[:2]
        y = F.conv2d(
            x.flatten(0, 1).double(), weight, shift, conv.stride, conv.padding, conv.dilation, conv.groups
        )
        return y.to(x.dtype).unflatten(0, (t, b))

    return forward


@contextlib.contextmanager
def fake_quantized(model: SplitModel, target, headroom_bits: int = 6) -> Iterator[SplitModel]:
    """See the module docstring; restores the float forward on exit, also after an error."""
    from sbn.targets.quantize import require_format

    fmt = require_format(target)
    patched: list[nn.Module] = []
    try:
        for conv, bn, neuron, graded in device_pairs(model):
            sigma = neuron_scale(float(neuron.params.v_th), fmt, headroom_bits)
            conv.forward = _folded_forward(conv, bn, sigma, fmt, graded)
            bn.forward = lambda x: x  # folded into the convolution above
            patched += [conv, bn]
        yield model
    finally:
        for module in patched:
            if "forward" in module.__dict__:
                del module.forward
