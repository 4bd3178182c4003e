"""NIR nodes as step functions for the toolchain's Lava process models.

Each supported node becomes a ``NodeOp``: ``rest(batch)`` gives its state at rest and
``step(x, state) -> (y, state)`` advances one time step, ``x`` being the sum of everything the
node receives in that step, shape (B, *input shape). Synaptic layers use ``kernels`` (im2col
GEMM); neurons are NIR's equations stepped with forward Euler at the graph's ``dt``, written
with the same float64 expressions as the reference executor (``sbn.graph.nodes``) so that
potentials, and hence spikes, agree bit for bit::

    LIF      v = (1 - dt/tau) v + (dt/tau) r x + (dt/tau) v_leak;  z = v > v_threshold;
             v = v_reset where z (hard reset in the spiking step)
    IF       v = v + dt r x;  spike and reset as LIF
    LI       v as LIF, output v;  I: v = v + dt r x, output v
    CubaLIF  I = I + dt/tau_syn (w_in x - I);  v = (1 - dt/tau_mem) v + (dt/tau_mem) r I
             + (dt/tau_mem) v_leak; spike and reset as LIF (CubaLI: output v)

Anything Lava's process models cannot run exactly is refused here, naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import nir
import numpy as np

from sbn.errors import SimulationError
from sbn.targets.lava import kernels

F64 = np.float64


@dataclass
class NodeOp:
    step: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]
    rest: Callable[[int], Any] = lambda batch: None


def _f(value) -> np.ndarray:
    return np.asarray(value, dtype=F64)


def _rest(shape, value=0.0) -> Callable[[int], np.ndarray]:
    full = np.broadcast_to(_f(value), shape)
    return lambda batch: np.broadcast_to(full, (batch, *shape)).copy()


def _bshape(*params) -> tuple[int, ...]:
    return np.broadcast_shapes(*(np.shape(p) for p in params))


def _stateless(fn: Callable[[np.ndarray], np.ndarray]) -> NodeOp:
    return NodeOp(step=lambda x, s: (fn(x), s))


def _conv_args(node):
    return node.stride, node.padding, node.dilation, int(np.asarray(node.groups))


def _conv2d(node: nir.Conv2d, dt: float) -> NodeOp:
    w, b = np.ascontiguousarray(_f(node.weight)), _f(node.bias)
    stride, padding, dilation, groups = _conv_args(node)
    return _stateless(lambda x: kernels.conv2d(x, w, b, stride, padding, dilation, groups))


def _conv1d(node: nir.Conv1d, dt: float) -> NodeOp:
    w, b = _f(node.weight)[:, :, None, :].copy(), _f(node.bias)
    stride, padding, dilation, groups = _conv_args(node)
    if not isinstance(padding, (str, bytes)) and not (
            isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO"):
        padding = (0, kernels.pair(padding, 1)[0])
    stride = (1, kernels.pair(stride, 1)[0])
    dilation = (1, kernels.pair(dilation, 1)[0])
    return _stateless(
        lambda x: kernels.conv2d(x[:, :, None, :], w, b, stride, padding, dilation, groups)[:, :, 0, :]
    )


def _affine(node: nir.Affine, dt: float) -> NodeOp:
    w, b = _f(node.weight), _f(node.bias)
    return _stateless(lambda x: np.matmul(w, x[..., None])[..., 0] + b)


def _linear(node: nir.Linear, dt: float) -> NodeOp:
    w = _f(node.weight)
    return _stateless(lambda x: np.matmul(w, x[..., None])[..., 0])


def _flatten(node: nir.Flatten, dt: float) -> NodeOp:
    start, end = int(np.asarray(node.start_dim)), int(np.asarray(node.end_dim))

    def fn(x):
        shape = x.shape[1:]
        n = len(shape)
        s, e = (start % n, end % n) if n else (0, 0)
        return x.reshape(x.shape[0], *shape[:s], int(np.prod(shape[s:e + 1])), *shape[e + 1:])

    return _stateless(fn)


def _leak(tau, r, v_leak, dt: float):
    a = dt / _f(tau)
    return 1.0 - a, a * _f(r), a * _f(v_leak)


def _spike(v, threshold, reset):
    z = v > threshold
    return z.astype(F64), np.where(z, reset, v)


def _lif(node: nir.LIF, dt: float) -> NodeOp:
    decay, gain, drift = _leak(node.tau, node.r, node.v_leak, dt)
    thr, reset = _f(node.v_threshold), _f(node.v_reset)
    return NodeOp(lambda x, v: _spike(decay * v + gain * x + drift, thr, reset),
                  _rest(_bshape(node.tau, node.r, node.v_leak, thr), node.v_leak))


def _if(node: nir.IF, dt: float) -> NodeOp:
    gain = dt * _f(node.r)
    thr, reset = _f(node.v_threshold), _f(node.v_reset)
    return NodeOp(lambda x, v: _spike(v + gain * x, thr, reset), _rest(_bshape(node.r, thr)))


def _li(node: nir.LI, dt: float) -> NodeOp:
    decay, gain, drift = _leak(node.tau, node.r, node.v_leak, dt)

    def step(x, v):
        v = decay * v + gain * x + drift
        return v, v

    return NodeOp(step, _rest(_bshape(node.tau, node.r, node.v_leak), node.v_leak))


def _integrator(node: nir.I, dt: float) -> NodeOp:
    gain = dt * _f(node.r)

    def step(x, v):
        v = v + gain * x
        return v, v

    return NodeOp(step, _rest(np.shape(node.r)))


def _cuba(node, dt: float, spiking: bool) -> NodeOp:
    a_syn = dt / _f(node.tau_syn)
    decay, gain, drift = _leak(node.tau_mem, node.r, node.v_leak, dt)
    w_in = _f(node.w_in)
    shape = _bshape(node.tau_syn, node.tau_mem, node.r, node.v_leak)
    rest_v, rest_i = _rest(shape, node.v_leak), _rest(shape)
    thr = _f(node.v_threshold) if spiking else None
    reset = _f(node.v_reset) if spiking else None

    def step(x, state):
        v, i = state
        i = i + a_syn * (w_in * x - i)
        v = decay * v + gain * i + drift
        if not spiking:
            return v, (v, i)
        z, v = _spike(v, thr, reset)
        return z, (v, i)

    return NodeOp(step, lambda b: (rest_v(b), rest_i(b)))


def _delay(node: nir.Delay, dt: float, name: str) -> NodeOp:
    steps = _f(node.delay) / dt
    whole = np.rint(steps)
    if not np.allclose(steps, whole, rtol=0, atol=1e-6) or (whole < 0).any():
        raise SimulationError(f"node {name}: Delay of {np.unique(node.delay)[:4].tolist()} is not "
                              f"a whole number of steps at dt = {dt}; Lava steps in whole steps")
    steps = whole.astype(np.int64)
    depth = int(steps.max()) if steps.size else 0

    def step(x, history):
        history = [x] + history[:depth]  # history[d]: the input d steps ago
        y = np.zeros_like(x)
        for d in np.unique(steps):
            if d < len(history):
                mask = np.broadcast_to(steps == d, x.shape)
                y[mask] = history[d][mask]
        return y, history

    return NodeOp(step, lambda batch: [])


def _threshold(node: nir.Threshold, dt: float) -> NodeOp:
    thr = _f(node.threshold)
    return _stateless(lambda x: (x > thr).astype(F64))


def _pool(fn):
    def build(node, dt: float) -> NodeOp:
        args = (node.kernel_size, node.stride, node.padding)
        return _stateless(lambda x: fn(x, *args))
    return build


def _scale(node: nir.Scale, dt: float) -> NodeOp:
    s = _f(node.scale)
    return _stateless(lambda x: x * s)


BUILDERS: dict[type, Callable[..., NodeOp]] = {
    nir.Input: lambda node, dt: _stateless(lambda x: x),
    nir.Output: lambda node, dt: _stateless(lambda x: x),
    nir.Affine: _affine,
    nir.Linear: _linear,
    nir.Scale: _scale,
    nir.Conv1d: _conv1d,
    nir.Conv2d: _conv2d,
    nir.SumPool2d: _pool(kernels.sum_pool2d),
    nir.AvgPool2d: _pool(kernels.avg_pool2d),
    nir.Flatten: _flatten,
    nir.Threshold: _threshold,
    nir.LIF: _lif,
    nir.IF: _if,
    nir.LI: _li,
    nir.I: _integrator,
    nir.CubaLIF: lambda node, dt: _cuba(node, dt, spiking=True),
    nir.CubaLI: lambda node, dt: _cuba(node, dt, spiking=False),
}
SUPPORTED = sorted([t.__name__ for t in BUILDERS] + ["Delay"])


def check_node(name: str, node) -> None:
    """SimulationError naming ``name`` if Lava cannot run this node exactly."""
    if isinstance(node, nir.Delay):
        return
    if type(node) not in BUILDERS:
        raise SimulationError(
            f"node {name}: NIR type {type(node).__name__} cannot be simulated in Lava; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    for attr in ("v_threshold", "tau", "tau_mem", "tau_syn", "r", "v_leak", "v_reset", "w_in"):
        if hasattr(node, attr) and not np.all(np.isfinite(_f(getattr(node, attr)))):
            raise SimulationError(f"node {name}: parameter {attr} holds inf/nan; Lava's float "
                                  "models cannot run it exactly")
    for attr in ("tau", "tau_mem", "tau_syn"):
        if hasattr(node, attr) and np.any(_f(getattr(node, attr)) == 0):
            raise SimulationError(f"node {name}: {attr} = 0 (an infinitely fast neuron) has no "
                                  "forward-Euler step")


def build_op(name: str, node, dt: float) -> NodeOp:
    check_node(name, node)
    if isinstance(node, nir.Delay):
        return _delay(node, dt, name)
    return BUILDERS[type(node)](node, dt)
