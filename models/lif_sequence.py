"""The LIF over a whole ``[T, ...]`` sequence as one autograd node: the training path.

Autograd through the step function (``neurons.lif_step``, the reference) records about six
nodes per time step and saves five tensors per step; worse, each ``x[t]`` is a select whose
backward allocates a zero ``[T, ...]`` tensor and adds it up, so the time loop's backward
touches T^2 full-size tensors. On the CPU that bookkeeping, not the arithmetic, was a fifth
of a full-width training step. Here the forward runs the recurrence in place without
autograd and keeps only the potentials ``u``; the backward runs backpropagation through time
by hand, writing each step's gradient straight into the result.

The backward, for ``u[t] = k u[t-1] (1 - o[t-1]) + x[t]``, ``o[t] = 1{u[t] >= V_th}`` and the
rectangular surrogate ``s[t] = 1{|u[t] - V_th| < a/2} / a``, from ``g[T] = 0`` back::

    dL/do[t] = grad_out[t] - k u[t] g[t+1]          (o[t] resets u[t+1]; not detached)
    g[t] = dL/du[t] = dL/do[t] s[t] + k (1 - o[t]) g[t+1]
    dL/dx[t] = g[t]

which is what autograd computes through the reference, in another order of the same float
operations (``tests/models/test_lif_sequence.py`` holds it to the reference). The spikes are
bit-identical: the window and the threshold are evaluated on the same ``u`` with the same ops.
``sbn.train_fused_lif`` is the same recurrence written for ``torch.compile``.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def run(x: torch.Tensor, decay: float, v_th: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes o[t] and potentials u[t] (before the reset that o[t] triggers) for ``x``
    ``[T, ...]`` from rest.

    Bit-identical to ``lif_step``'s ``k u (1 - o) + x``: the same products in the same order,
    with ``1 - o`` written as ``u < V_th`` (exactly 1.0 or 0.0). Comparisons write straight
    into float tensors: a bool result converted by ``.to(float)`` took several times longer.
    """
    u = torch.empty_like(x)  # keeps a channels-last layout
    spikes = torch.empty_like(x)
    kept = torch.empty_like(x[0])  # 1 - o[t-1]
    u[0].copy_(x[0])
    torch.ge(u[0], v_th, out=spikes[0])
    for t in range(1, x.shape[0]):
        torch.lt(u[t - 1], v_th, out=kept)
        torch.mul(u[t - 1], decay, out=u[t]).mul_(kept).add_(x[t])
        torch.ge(u[t], v_th, out=spikes[t])
    return spikes, u


@torch.no_grad()
def input_gradient(
    grad_out: torch.Tensor, u: torch.Tensor, decay: float, v_th: float, width: float
) -> torch.Tensor:
    """dL/dx from dL/do and the potentials (see the module docstring)."""
    # s[t], with the window evaluated exactly as RectangularSpike does
    surrogate = (u - v_th).abs_()
    torch.lt(surrogate, width / 2, out=surrogate).div_(width)
    grad = torch.empty_like(u)
    last = u.shape[0] - 1
    torch.mul(grad_out[last], surrogate[last], out=grad[last])
    if last == 0:
        return grad
    kept = torch.lt(u[:last], v_th, out=torch.empty_like(u[:last])).mul_(decay)  # k (1 - o[t])
    reset = u[:last] * decay  # k u[t]
    for t in reversed(range(last)):
        g_next = grad[t + 1]
        d_spike = torch.addcmul(grad_out[t], reset[t], g_next, value=-1.0)
        torch.mul(d_spike, surrogate[t], out=grad[t])
        grad[t].addcmul_(kept[t], g_next)
    return grad


class LIFSequence(torch.autograd.Function):
    """Spikes ``[T, ...]`` of the LIF from rest, with the surrogate gradient through time."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, decay: float, v_th: float, width: float) -> torch.Tensor:
        spikes, u = run(x, decay, v_th)
        ctx.save_for_backward(u)
        ctx.constants = (decay, v_th, width)
        return spikes

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (u,) = ctx.saved_tensors
        return input_gradient(grad_out, u, *ctx.constants), None, None, None
