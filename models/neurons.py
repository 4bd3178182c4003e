"""Iterative LIF neuron: a pure step function plus a thin multi-step module.

The method's neuron (Euler-discretised, hard reset to 0)::

    u[t] = k * u[t-1] * (1 - o[t-1]) + x[t]
    o[t] = 1 if u[t] >= V_th else 0

trained with a rectangular surrogate gradient of width ``a`` and area 1::

    d o / d u ~= (1/a) * 1{|u - V_th| < a/2}

Tensors are laid out ``[T, B, ...]`` (time first) throughout the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from sbn.errors import ConfigError
from sbn.models.lif_sequence import LIFSequence, run


@dataclass(frozen=True)
class LIFParameters:
    """Parameters of the iterative LIF neuron.

    decay: k, the membrane decay per time step, in (0, 1]; k = 1 is an IF neuron.
    v_th: firing threshold V_th (> 0).
    surrogate_width: a, the width of the rectangular surrogate window (> 0).

    The default a = 4 is measured, not folklore: with a = 1 (or 2) the 16-block spiking
    ResNet50 does not learn at all from scratch (loss stays at ln 10 on digits for 4+
    epochs) because the backward gain per block is about 2 and the early layers' gradients
    explode; with a = 4 the same run learns (docs/training.md has the numbers). The window
    only shapes gradients: the forward pass, the export and the simulators do not see it.
    """

    decay: float = 0.5
    v_th: float = 1.0
    surrogate_width: float = 4.0

    def __post_init__(self) -> None:
        if not 0.0 < self.decay <= 1.0:
            raise ConfigError(f"LIF decay k must lie in (0, 1], got {self.decay}")
        if not 0.0 < self.v_th < math.inf:
            raise ConfigError(f"LIF threshold V_th must be > 0 and finite, got {self.v_th}")
        if not 0.0 < self.surrogate_width < math.inf:
            raise ConfigError(f"surrogate width a must be > 0, got {self.surrogate_width}")


class RectangularSpike(torch.autograd.Function):
    """Heaviside step forward; rectangular window of width ``a`` and height 1/a backward."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, v_th: float, width: float) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.v_th = v_th
        ctx.width = width
        return (u >= v_th).to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (u,) = ctx.saved_tensors
        window = ((u - ctx.v_th).abs() < ctx.width / 2).to(grad_out.dtype)
        return grad_out * window / ctx.width, None, None


def spike(u: torch.Tensor, params: LIFParameters) -> torch.Tensor:
    """Threshold ``u`` into spikes {0, 1}, differentiable through the surrogate."""
    return RectangularSpike.apply(u, params.v_th, params.surrogate_width)


def lif_step(
    x: torch.Tensor, u: torch.Tensor, o: torch.Tensor, params: LIFParameters
) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step of the iterative LIF.

    x: synaptic input x[t]; u, o: membrane potential and spikes of step t-1.
    Returns (o[t], u[t]); u[t] is the potential *before* the reset that o[t] triggers,
    exactly as in the method's equations.
    """
    u = params.decay * u * (1.0 - o) + x
    return spike(u, params), u


def lif_multistep(x: torch.Tensor, params: LIFParameters) -> torch.Tensor:
    """Run the LIF over ``x`` of shape ``[T, B, ...]`` from rest; returns spikes, same shape.

    Training runs the whole sequence as one autograd node (``LIFSequence``); the same
    spikes and, within rounding, the same gradients as ``lif_multistep_reference``.
    """
    if not (torch.is_grad_enabled() and x.requires_grad):
        return _lif_multistep_inference(x, params)
    return LIFSequence.apply(x, params.decay, params.v_th, params.surrogate_width)


def lif_multistep_reference(x: torch.Tensor, params: LIFParameters) -> torch.Tensor:
    """``lif_step`` over time under plain autograd: the definition the fast paths are held to."""
    u = torch.zeros_like(x[0])
    o = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):  # one vectorised pass per time step
        o, u = lif_step(x[t], u, o, params)
        out.append(o)
    return torch.stack(out)


def _lif_multistep_inference(x: torch.Tensor, params: LIFParameters) -> torch.Tensor:
    """The same recurrence without autograd (``lif_sequence.run``, bit-identical to
    ``lif_step``)."""
    return run(x, params.decay, params.v_th)[0]


class LIF(nn.Module):
    """Multi-step LIF layer over ``[T, B, ...]``; stateless between calls (reset per sample)."""

    def __init__(self, params: LIFParameters | None = None) -> None:
        super().__init__()
        self.params = params or LIFParameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lif_multistep(x, self.params)

    def extra_repr(self) -> str:
        p = self.params
        return f"decay={p.decay}, v_th={p.v_th}, surrogate_width={p.surrogate_width}"


class MultiStepReLU(nn.Module):
    """The real-valued baseline's activation, with the same ``[T, B, ...]`` interface."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)
