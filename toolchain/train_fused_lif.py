"""The LIF time loop fused: ``sbn train --lif fused``.

Eager autograd records every step of ``sbn.models.neurons.lif_step`` (five tensors saved
per step, one kernel per op). Here the whole recurrence is one autograd node: the forward
keeps only the membrane potentials ``u[t]``, the backward runs backpropagation through time
by hand, and both loops are compiled with ``torch.compile`` so that a time step's
element-wise ops become one kernel. The model's own LIF (eager) stays the reference; the
tests check this path against it (same spikes, same gradients within rounding).

The backward, for ``u[t] = k u[t-1] (1 - o[t-1]) + x[t]`` and ``o[t] = H(u[t] - V_th)``
with the rectangular surrogate ``s[t] = 1{|u[t] - V_th| < a/2} / a``, going back in time
with ``g[T] = 0``::

    dL/do[t] = grad_out[t] - k u[t] g[t+1]          (o[t] resets u[t+1])
    g[t] = dL/du[t] = dL/do[t] s[t] + k (1 - o[t]) g[t+1]
    dL/dx[t] = g[t]

which is exactly what autograd computes through the eager loop (the reset's gradient
included), in another order of the same float operations.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from sbn.errors import ConfigError
from sbn.models.neurons import LIF, LIFParameters

LIF_KERNELS = ("eager", "fused")


def lif_forward(x: torch.Tensor, decay: float, v_th: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane potentials (before reset) for ``x`` ``[T, N]``, from rest.

    The same float operations in the same order as ``lif_step``, so the spikes are
    bit-identical to the eager model's.
    """
    u = torch.zeros_like(x[0])
    o = torch.zeros_like(x[0])
    spikes, potentials = [], []
    for t in range(x.shape[0]):  # T is small and fixed: the loop is unrolled when compiled
        u = decay * u * (1.0 - o) + x[t]
        o = (u >= v_th).to(x.dtype)
        spikes.append(o)
        potentials.append(u)
    return torch.stack(spikes), torch.stack(potentials)


def lif_backward(
    grad_out: torch.Tensor, u: torch.Tensor, decay: float, v_th: float, width: float
) -> torch.Tensor:
    """dL/dx from dL/do and the saved potentials (see the module docstring)."""
    o = (u >= v_th).to(u.dtype)
    surrogate = ((u - v_th).abs() < width / 2).to(u.dtype) / width
    grads = []  # g[T-1], ..., g[0]: appended, not assigned by index, which torch 2.11's
    g_next = torch.zeros_like(u[0])  # Dynamo cannot trace (the device machine's torch)
    for t in reversed(range(u.shape[0])):
        d_o = grad_out[t] - decay * u[t] * g_next
        g_next = d_o * surrogate[t] + decay * (1.0 - o[t]) * g_next
        grads.append(g_next)
    return torch.stack(grads[::-1])


@functools.cache
def _kernels(compiled: bool):
    """(forward, backward, spikes-only forward), compiled once per process when asked.

    ``dynamic=True``: one compiled kernel serves every layer's size (the tensors are
    flattened to ``[T, N]``); T is a loop bound, so it is specialised per value.
    """

    def spikes_only(x, decay, v_th):
        return lif_forward(x, decay, v_th)[0]

    fns = (lif_forward, lif_backward, spikes_only)
    if not compiled:
        return fns
    return tuple(torch.compile(f, dynamic=True, fullgraph=True) for f in fns)


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, params: LIFParameters, compiled: bool):
        spikes, u = _kernels(compiled)[0](x, params.decay, params.v_th)
        ctx.save_for_backward(u)
        ctx.params, ctx.compiled = params, compiled
        return spikes

    @staticmethod
    def backward(ctx, grad_out):
        (u,) = ctx.saved_tensors
        p = ctx.params
        grad = _kernels(ctx.compiled)[1](grad_out.contiguous(), u, p.decay, p.v_th, p.surrogate_width)
        return grad, None, None


def fused_lif_multistep(x: torch.Tensor, params: LIFParameters, compiled: bool = True) -> torch.Tensor:
    """``lif_multistep`` with the fused loop; ``compiled=False`` runs the same loops eagerly."""
    flat = x.reshape(x.shape[0], -1)  # [T, N]: every layer shares one compiled kernel
    if torch.is_grad_enabled() and x.requires_grad:
        out = _FusedLIF.apply(flat, params, compiled)
    else:
        out = _kernels(compiled)[2](flat, params.decay, params.v_th)
    return out.view(x.shape)


class FusedLIF(LIF):
    """A ``LIF`` (exporters and probes see the same type and parameters) whose forward
    runs the fused loop."""

    def __init__(self, params: LIFParameters | None = None, compiled: bool = True) -> None:
        super().__init__(params)
        self.compiled = compiled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_lif_multistep(x, self.params, self.compiled)


def use_lif_kernel(model: nn.Module, kernel: str) -> nn.Module:
    """Swap every ``LIF`` of ``model`` for the chosen kernel's module, in place.

    The LIF holds no weights, so the state dict and the checkpoint are unchanged.
    """
    if kernel not in LIF_KERNELS:
        raise ConfigError(f"unknown LIF kernel {kernel!r}: use one of {', '.join(LIF_KERNELS)}")
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if type(child) is LIF and kernel == "fused":
                setattr(parent, name, FusedLIF(child.params))
            elif type(child) is FusedLIF and kernel == "eager":
                setattr(parent, name, LIF(child.params))
    return model


def check_compiler(device: torch.device) -> None:
    """Compile and run the fused loop once on a tiny tensor, so that a machine without a
    working compiler (no C++ compiler for the CPU, no Triton for the GPU) is refused before
    training starts, in one line."""
    x = torch.zeros(2, 4, device=device, requires_grad=True)
    try:
        fused_lif_multistep(x, LIFParameters()).sum().backward()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"--lif fused: torch.compile cannot build the fused loop on {device} "
            f"({first[:200]}); use --lif eager"
        ) from None
