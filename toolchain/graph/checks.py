"""Checks of a NIR graph's node parameters, run by ``load_nir`` on every file it reads.

NIR's reader takes any numbers: a stride of 0 (a division by zero in every consumer), a
negative kernel size, an Input of 3 x 100000 x 100000 (30 G neurons, allocated by the first
simulator that trusts it), a time constant of 0 or a NaN weight (every number computed from
them is wrong, with numpy warnings on the way). These checks refuse such files with a
``GraphError`` naming the node and the field, before any consumer computes with them: every
numeric parameter must be finite, and every time constant positive (r, v_leak, v_reset and
the weights may be any finite value). Shape consistency between nodes
(channels of a convolution against its input) needs shape inference: ``sbn.targets.shapes``.
"""

from __future__ import annotations

import math

import nir
import numpy as np

from sbn.errors import GraphError

#: the most elements one node may hold or produce (2^31: beyond every target and beyond what
#: a simulator can allocate per sample)
MAX_ELEMENTS = 2**31

_WINDOWED = (nir.Conv1d, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d)

#: the time constants of NIR's neuron types: forward Euler divides by them, and a decay
#: needs tau > 0 (LIF, LI: tau; CubaLIF, CubaLI: tau_syn, tau_mem; IF and I have none)
TIME_CONSTANTS = ("tau", "tau_mem", "tau_syn")
_WITH_TIME_CONSTANTS = (nir.LIF, nir.LI, nir.CubaLIF, nir.CubaLI)


def check_parameters(graph: nir.NIRGraph, prefix: str = "") -> None:
    """GraphError for the first node whose parameters no consumer can compute with."""
    for name, node in graph.nodes.items():
        where = f"{prefix}{name}"
        if isinstance(node, nir.NIRGraph):
            check_parameters(node, f"{where}.")
            continue
        for field, value in _arrays(node):
            if value.size > MAX_ELEMENTS:
                raise GraphError(
                    f"node {where}: {field} holds {value.size:,} values, more "
                    f"than the {MAX_ELEMENTS:,} a node may have"
                )
        for field, value in _arrays(node):
            if value.dtype.kind not in "biuf" and field != "padding":  # padding may be "same"
                raise GraphError(
                    f"node {where}: {field} holds {value.dtype} values; NIR parameters are numbers"
                )
        _check_finite(where, node)
        if isinstance(node, _WITH_TIME_CONSTANTS):
            _check_time_constants(where, node)
        if isinstance(node, nir.Input):
            _check_shape(where, "input shape", node.input_type.get("input"))
        if isinstance(node, _WINDOWED):
            _check_window(where, node)
        if isinstance(node, nir.Flatten):
            for field in ("start_dim", "end_dim"):
                _check_index(where, field, getattr(node, field))
        if isinstance(node, (nir.Affine, nir.Linear)) and np.ndim(node.weight) != 2:
            raise GraphError(
                f"node {where}: weight of shape {list(np.shape(node.weight))}; a "
                f"dense layer's weight is [outputs, inputs]"
            )


def _arrays(node) -> list[tuple[str, np.ndarray]]:
    return [(k, v) for k, v in vars(node).items() if isinstance(v, np.ndarray)]


def _numbers(node) -> list[tuple[str, np.ndarray]]:
    """Every numeric parameter of a node as an array: arrays and plain scalars (NIR's
    defaults such as CubaLIF's ``w_in = 1.0``), not its types or metadata."""
    found = []
    for key, value in vars(node).items():
        if key in ("input_type", "output_type", "metadata") or isinstance(value, (str, bytes, bool)):
            continue
        if isinstance(value, (np.ndarray, np.number, int, float)):
            found.append((key, np.asarray(value)))
    return found


def _check_finite(where: str, node) -> None:
    """GraphError naming the first parameter that holds NaN or infinity."""
    for field, value in _numbers(node):
        if value.dtype.kind not in "fc":
            continue  # integers and booleans are always finite
        bad = ~np.isfinite(value)
        if bad.any():
            kinds = " or ".join(
                k for k, hit in (("NaN", np.isnan(value).any()), ("infinite", np.isinf(value).any())) if hit
            )
            raise GraphError(
                f"node {where}: {field} holds {int(bad.sum())} {kinds} value(s) of {value.size}; "
                f"NIR parameters must be finite numbers"
            )


def _check_time_constants(where: str, node) -> None:
    """GraphError naming the first time constant that is not positive."""
    for field in TIME_CONSTANTS:
        value = getattr(node, field, None)
        if value is None:
            continue
        value = np.asarray(value, dtype=np.float64)
        bad = ~(value > 0)
        if bad.any():
            first = float(value.reshape(-1)[np.argmax(bad.reshape(-1))])
            raise GraphError(
                f"node {where}: {field} = {first:g} ({int(bad.sum())} of {value.size} value(s) "
                f"not positive); a neuron's time constant must be a positive number"
            )


def _check_index(where: str, field: str, value) -> None:
    """A dimension index: one whole number (negative counts from the end)."""
    if np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "iu":
        raise GraphError(f"node {where}: {field} {np.asarray(value).tolist()!r} must be one whole number")


def _check_shape(where: str, field: str, shape) -> None:
    if shape is None:
        return
    dims = np.asarray(shape).reshape(-1)
    if (
        dims.dtype.kind not in "iuf"
        or not np.all(np.isfinite(dims))
        or np.any(dims != np.round(dims))
        or np.any(dims < 1)
    ):
        raise GraphError(f"node {where}: {field} {dims.tolist()} must be positive whole numbers")
    if math.prod(int(d) for d in dims) > MAX_ELEMENTS:
        raise GraphError(
            f"node {where}: {field} {[int(d) for d in dims]} has more than the "
            f"{MAX_ELEMENTS:,} elements a node may have"
        )


def _check_window(where: str, node) -> None:
    """Stride, dilation, kernel and groups of a convolution or pool: positive integers."""
    fields = {"stride": node.stride}
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        fields["dilation"] = node.dilation
        fields["groups"] = node.groups
        if np.ndim(node.weight) not in (3, 4):
            raise GraphError(
                f"node {where}: weight of shape {list(np.shape(node.weight))}; a "
                f"convolution's weight is [C_out, C_in / groups, *kernel]"
            )
        fields["kernel"] = np.shape(node.weight)[2:]
    else:
        fields["kernel_size"] = node.kernel_size
    for field, value in fields.items():
        _check_shape(where, field, value)


#: fields of a window node that NIR's reader itself divides by or multiplies with
RAW_WINDOW_FIELDS = ("stride", "dilation", "kernel_size", "groups")
WINDOW_TYPES = tuple(t.__name__ for t in _WINDOWED)


def check_raw_window_field(where: str, field: str, value) -> None:
    """The same check on a field read straight from the file, before NIR's reader uses it."""
    _check_shape(where, field, value)
