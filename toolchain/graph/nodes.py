"""One step function per NIR node type (the table that maps types to them: ``node_types``).

Each builder turns a node into an ``Op``: ``init(batch)`` gives the state at rest and
``step(x, state) -> (y, state)`` advances one time step of length ``dt``, where ``x`` is the
sum of everything the node receives at this step, shape (B, *input shape).

Neurons are NIR's continuous-time equations stepped with forward Euler, the input of step t
entering step t (zero delay)::

    LIF      v = v + dt/tau (v_leak - v + r x);   z = v > v_threshold;   v = v_reset where z
    IF       v = v + dt r x;                      z, reset as LIF
    LI       v = v + dt/tau (v_leak - v + r x);   output v
    I        v = v + dt r x;                      output v
    CubaLIF  I = I + dt/tau_syn (-I + w_in x);  v = v + dt/tau_mem (v_leak - v + r I)
             (the new current drives v in the same step); spike and reset as LIF
    CubaLI   as CubaLIF without spikes; output v

"At rest" is v = v_leak (0 for IF and I) and I = 0. A Threshold node outputs x > threshold.
A Delay node holds its input for round(delay / dt) steps (delays must be whole steps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nir
import numpy as np

from sbn.errors import GraphError
from sbn.graph import numerics

F64 = np.float64


@dataclass
class Op:
    """A node ready to run: its state at rest and its step function."""

    step: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]
    init: Callable[[int], Any] = lambda batch: None
    #: state -> membrane potential (after reset), for neurons and integrators
    voltage: Callable[[Any], np.ndarray] | None = None


def _arr(value) -> np.ndarray:
    return np.asarray(value, dtype=F64)


def _at_rest(shape, value=0.0) -> Callable[[int], np.ndarray]:
    """The state at rest for a batch: ``value`` broadcast to (batch, *shape)."""
    full = np.broadcast_to(_arr(value), shape)
    return lambda batch: np.broadcast_to(full, (batch, *shape)).copy()


def _shape(*params: np.ndarray) -> tuple[int, ...]:
    return np.broadcast_shapes(*(np.shape(p) for p in params))


# ---- stateless ---------------------------------------------------------------------------
def passthrough(node, dt: float) -> Op:
    return Op(step=lambda x, s: (x, s))


def affine(node: nir.Affine, dt: float) -> Op:
    w, b = _arr(node.weight), _arr(node.bias)
    return Op(step=lambda x, s: (numerics.affine(x, w, b), s))


def linear(node: nir.Linear, dt: float) -> Op:
    w = _arr(node.weight)
    return Op(step=lambda x, s: (numerics.affine(x, w, None), s))


def scale(node: nir.Scale, dt: float) -> Op:
    scale = _arr(node.scale)
    return Op(step=lambda x, s: (x * scale, s))


def conv2d(node: nir.Conv2d, dt: float) -> Op:
    w, b = _arr(node.weight), _arr(node.bias)
    args = (node.stride, node.padding, node.dilation, int(np.asarray(node.groups)))
    return Op(step=lambda x, s: (numerics.conv2d(x, w, b, *args), s))


def conv1d(node: nir.Conv1d, dt: float) -> Op:
    w, b = _arr(node.weight), _arr(node.bias)
    args = (node.stride, node.padding, node.dilation, int(np.asarray(node.groups)))
    return Op(step=lambda x, s: (numerics.conv1d(x, w, b, *args), s))


def sum_pool(node: nir.SumPool2d, dt: float) -> Op:
    args = (node.kernel_size, node.stride, node.padding)
    return Op(step=lambda x, s: (numerics.sum_pool2d(x, *args), s))


def avg_pool(node: nir.AvgPool2d, dt: float) -> Op:
    args = (node.kernel_size, node.stride, node.padding)
    return Op(step=lambda x, s: (numerics.avg_pool2d(x, *args), s))


def flatten(node: nir.Flatten, dt: float) -> Op:
    start, end = int(np.asarray(node.start_dim)), int(np.asarray(node.end_dim))
    return Op(step=lambda x, s: (numerics.flatten(x, start, end), s))


def threshold(node: nir.Threshold, dt: float) -> Op:
    thr = _arr(node.threshold)
    return Op(step=lambda x, s: ((x > thr).astype(F64), s))


# ---- stateful ----------------------------------------------------------------------------
def _leaky(tau, r, v_leak, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward-Euler coefficients: v = decay v + gain x + drift."""
    a = dt / _arr(tau)
    return 1.0 - a, a * _arr(r), a * _arr(v_leak)


def _fire(v: np.ndarray, threshold: np.ndarray, reset: np.ndarray):
    z = v > threshold
    return z.astype(F64), np.where(z, reset, v)


def lif(node: nir.LIF, dt: float) -> Op:
    decay, gain, drift = _leaky(node.tau, node.r, node.v_leak, dt)
    thr, reset = _arr(node.v_threshold), _arr(node.v_reset)

    def step(x, v):
        return _fire(decay * v + gain * x + drift, thr, reset)

    shape = _shape(node.tau, node.r, node.v_leak, thr)
    return Op(step, _at_rest(shape, node.v_leak), voltage=lambda v: v)


def if_(node: nir.IF, dt: float) -> Op:
    gain = dt * _arr(node.r)
    thr, reset = _arr(node.v_threshold), _arr(node.v_reset)

    def step(x, v):
        return _fire(v + gain * x, thr, reset)

    return Op(step, _at_rest(_shape(node.r, thr)), voltage=lambda v: v)


def li(node: nir.LI, dt: float) -> Op:
    decay, gain, drift = _leaky(node.tau, node.r, node.v_leak, dt)

    def step(x, v):
        v = decay * v + gain * x + drift
        return v, v

    shape = _shape(node.tau, node.r, node.v_leak)
    return Op(step, _at_rest(shape, node.v_leak), voltage=lambda v: v)


def integrator(node: nir.I, dt: float) -> Op:
    gain = dt * _arr(node.r)

    def step(x, v):
        v = v + gain * x
        return v, v

    return Op(step, _at_rest(np.shape(node.r)), voltage=lambda v: v)


def _cuba(node, dt: float, spiking: bool) -> Op:
    a_syn = dt / _arr(node.tau_syn)
    decay, gain, drift = _leaky(node.tau_mem, node.r, node.v_leak, dt)
    w_in = _arr(node.w_in)
    shape = _shape(node.tau_syn, node.tau_mem, node.r, node.v_leak)
    rest_v, rest_i = _at_rest(shape, node.v_leak), _at_rest(shape)
    if spiking:
        thr, reset = _arr(node.v_threshold), _arr(node.v_reset)

    def step(x, state):
        v, i = state
        i = i + a_syn * (w_in * x - i)
        v = decay * v + gain * i + drift
        if not spiking:
            return v, (v, i)
        z, v = _fire(v, thr, reset)
        return z, (v, i)

    return Op(step, lambda b: (rest_v(b), rest_i(b)), voltage=lambda s: s[0])


def delay(node: nir.Delay, dt: float) -> Op:
    steps = _arr(node.delay) / dt
    whole = np.rint(steps)
    if not np.allclose(steps, whole, rtol=0, atol=1e-6) or (whole < 0).any():
        raise GraphError(
            f"Delay node: delays {np.unique(node.delay)[:4].tolist()} are not whole multiples "
            f"of dt = {dt}; the executor steps in whole time steps"
        )
    steps = whole.astype(np.int64)
    depth = int(steps.max()) if steps.size else 0

    def step(x, history):
        history = [x] + history[:depth]  # history[d] = the input d steps ago
        if steps.ndim == 0:
            d = int(steps)
            y = history[d] if d < len(history) else np.zeros_like(x)
        else:
            y = np.zeros_like(x)
            for d in np.unique(steps):
                if d < len(history):
                    mask = np.broadcast_to(steps == d, x.shape)
                    y[mask] = history[d][mask]
        return y, history

    return Op(step, lambda batch: [])


def cuba_lif(node: nir.CubaLIF, dt: float) -> Op:
    return _cuba(node, dt, spiking=True)


def cuba_li(node: nir.CubaLI, dt: float) -> Op:
    return _cuba(node, dt, spiking=False)
