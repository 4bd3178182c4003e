"""NIR LIF / IF nodes as parameters of Lava's own ``LIF`` process, where that is exact.

Lava's floating-point LIF steps ``u = u (1 - du) + a_in``, ``v = v (1 - dv) + u + bias``,
spikes on ``v > vth`` and sets v to 0. The executor steps NIR's LIF at ``dt`` as
``v = (1 - dt/tau) v + (dt/tau) r x + (dt/tau) v_leak``, spike on ``v > v_threshold``, then
``v = v_reset``. The two agree bit for bit with

    du = 1 (u is this step's input),  dv = dt/tau (IF: 0),  bias_mant = (dt/tau) v_leak,
    vth = v_threshold

provided the input gain ``(dt/tau) r`` (IF: ``dt r``) is exactly 1, ``v_reset`` is 0, and
``tau`` and ``v_threshold`` are the same for every neuron (Lava's ``du``, ``dv`` and ``vth``
are scalars). Lava adds ``bias_mant`` from its first step, while data reaches a neuron
``h`` hops deep only at step ``h``: a nonzero leak is exact only for neurons whose input
starts at step 0 (the segment models gate it per segment instead). Anything else raises ``MappingError`` naming the node and the reason, never an
approximation. The segment models (``network``) run every NIR neuron exactly and need none
of this; it is what a graph needs to run on Lava's stock ``LIF`` (e.g. on Loihi), and the
tests check it against Lava's own LIF model.
"""

from __future__ import annotations

import nir
import numpy as np

from sbn.errors import MappingError


def _uniform(name: str, what: str, value) -> float:
    arr = np.asarray(value, dtype=np.float64).ravel()
    if arr.size and not (arr == arr[0]).all():
        raise MappingError(
            f"node {name}: {what} differs between neurons; Lava's LIF takes one value per process"
        )
    return float(arr[0])


def lava_lif_parameters(name: str, node, dt: float) -> dict:
    """Keyword arguments of ``lava.proc.lif.process.LIF`` equivalent to ``node`` at ``dt``."""
    if isinstance(node, nir.LIF):
        a = dt / _uniform(name, "tau", node.tau)
        gain = a * np.asarray(node.r, dtype=np.float64)
        bias = a * np.asarray(node.v_leak, dtype=np.float64)
        dv = a
    elif isinstance(node, nir.IF):
        gain = dt * np.asarray(node.r, dtype=np.float64)
        bias = np.zeros_like(gain)
        dv = 0.0
    else:
        raise MappingError(
            f"node {name}: {type(node).__name__} has no exact Lava LIF form (only NIR LIF and IF)"
        )
    if not (gain == 1.0).all():
        raise MappingError(
            f"node {name}: input gain (dt/tau) r = {np.unique(gain)[:3].tolist()} "
            "is not 1; Lava's LIF adds its input unscaled"
        )
    if np.any(np.asarray(node.v_reset) != 0):
        raise MappingError(
            f"node {name}: v_reset = {np.unique(node.v_reset)[:3].tolist()}; Lava's LIF resets to 0"
        )
    vth = _uniform(name, "v_threshold", node.v_threshold)
    shape = tuple(int(s) for s in np.shape(node.v_threshold))
    return {
        "shape": shape,
        "du": 1.0,
        "dv": float(dv),
        "vth": vth,
        "bias_mant": np.broadcast_to(bias, shape).copy(),
        "bias_exp": 0,
    }
