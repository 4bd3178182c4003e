"""NIR nodes as step functions for the toolchain's Lava process models.

Each supported node becomes a ``NodeOp``: ``rest(batch)`` gives its state at rest and
``step(x, state) -> (y, state)`` advances one time step, ``x`` being the sum of everything the
node receives in that step, shape (B, *input shape).

Synaptic layers (Conv, Affine, Linear, pooling, Flatten) use this backend's own kernels
(``kernels``; convolutions add in Lava's own ``Conv`` order, see ``lava_order``). Neurons, delays, scaling and thresholds step exactly the
reference executor's equations (``sbn.graph.nodes``: NIR's dynamics, forward Euler at the
graph's ``dt``, spike on ``v > v_threshold``, hard reset to ``v_reset``), taken from it
rather than written again, so that potentials, and hence spikes, agree bit for bit; what
the Lava tests then check is everything around them: processes, one-step hops, alignment
delays, the payload on the wire.

Anything Lava's process models cannot run exactly is refused here, naming the node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nir
import numpy as np

from sbn.errors import GraphError, SimulationError
from sbn.graph import node_types
from sbn.targets.lava import kernels

F64 = np.float64


@dataclass
class NodeOp:
    step: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]
    rest: Callable[[int], Any] = lambda batch: None


def _f(value) -> np.ndarray:
    return np.asarray(value, dtype=F64)


def _stateless(fn: Callable[[np.ndarray], np.ndarray]) -> NodeOp:
    return NodeOp(step=lambda x, s: (fn(x), s))


def _conv_args(node):
    return node.stride, node.padding, node.dilation, int(np.asarray(node.groups))


def _conv2d(node: nir.Conv2d, dt: float) -> NodeOp:
    stride, padding, dilation, groups = _conv_args(node)
    return _stateless(kernels.Conv2d(_f(node.weight), _f(node.bias), stride, padding, dilation, groups))


def _conv1d(node: nir.Conv1d, dt: float) -> NodeOp:
    w, b = _f(node.weight)[:, :, None, :].copy(), _f(node.bias)
    stride, padding, dilation, groups = _conv_args(node)
    if not isinstance(padding, (str, bytes)) and not (
        isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO"
    ):
        padding = (0, kernels.pair(padding, 1)[0])
    stride = (1, kernels.pair(stride, 1)[0])
    dilation = (1, kernels.pair(dilation, 1)[0])
    conv = kernels.Conv2d(w, b, stride, padding, dilation, groups)
    return _stateless(lambda x: conv(x[:, :, None, :])[:, :, 0, :])


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
        return x.reshape(x.shape[0], *shape[:s], int(np.prod(shape[s : e + 1])), *shape[e + 1 :])

    return _stateless(fn)


def _pool(fn):
    def build(node, dt: float) -> NodeOp:
        args = (node.kernel_size, node.stride, node.padding)
        return _stateless(lambda x: fn(x, *args))

    return build


#: synaptic and shape nodes, on this backend's kernels
BUILDERS: dict[type, Callable[..., NodeOp]] = {
    nir.Affine: _affine,
    nir.Linear: _linear,
    nir.Conv1d: _conv1d,
    nir.Conv2d: _conv2d,
    nir.SumPool2d: _pool(kernels.sum_pool2d),
    nir.AvgPool2d: _pool(kernels.avg_pool2d),
    nir.Flatten: _flatten,
}
#: nodes whose step is the reference executor's own (neuron dynamics and the like)
SHARED = (
    nir.Input,
    nir.Output,
    nir.Scale,
    nir.Threshold,
    nir.LIF,
    nir.IF,
    nir.LI,
    nir.I,
    nir.CubaLIF,
    nir.CubaLI,
    nir.Delay,
)


def check_node(name: str, node) -> None:
    """SimulationError naming ``name`` if Lava cannot run this node exactly."""
    if isinstance(node, nir.Delay):
        return  # its dt check needs the graph's dt: build_op
    try:
        node_types.lookup(name, node)  # every known type runs in Lava (tests/graph/test_node_types.py)
    except GraphError as exc:
        raise SimulationError(str(exc)) from None
    for attr in ("v_threshold", "tau", "tau_mem", "tau_syn", "r", "v_leak", "v_reset", "w_in"):
        if hasattr(node, attr) and not np.all(np.isfinite(_f(getattr(node, attr)))):
            raise SimulationError(
                f"node {name}: parameter {attr} holds inf/nan; Lava's float models cannot run it exactly"
            )
    if isinstance(node, (nir.Conv1d, nir.Conv2d)) and not np.all(np.isfinite(_f(node.weight))):
        # Lava's Conv multiplies every weight by the zero inputs too, so inf/nan would leak
        # into its sums where the kernel skips zeros: refused rather than computed otherwise
        raise SimulationError(
            f"node {name}: weight holds inf/nan; Lava-order convolution needs finite weights"
        )
    for attr in ("tau", "tau_mem", "tau_syn"):
        if hasattr(node, attr) and np.any(_f(getattr(node, attr)) == 0):
            raise SimulationError(
                f"node {name}: {attr} = 0 (an infinitely fast neuron) has no forward-Euler step"
            )


def _check_delay(name: str, node: nir.Delay, dt: float) -> None:
    steps = _f(node.delay) / dt
    whole = np.rint(steps)
    if not np.allclose(steps, whole, rtol=0, atol=1e-6) or (whole < 0).any():
        raise SimulationError(
            f"node {name}: Delay of {np.unique(node.delay)[:4].tolist()} is not "
            f"a whole number of steps at dt = {dt}; Lava steps in whole steps"
        )


def build_op(name: str, node, dt: float) -> NodeOp:
    check_node(name, node)
    if type(node) in SHARED:
        if isinstance(node, nir.Delay):
            _check_delay(name, node, dt)
        op = node_types.build(name, node, dt)
        return NodeOp(op.step, op.init)
    return BUILDERS[type(node)](node, dt)
