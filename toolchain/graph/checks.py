"""Checks of a NIR graph's node parameters, run by ``load_nir`` on every file it reads.

NIR's reader takes any numbers: a stride of 0 (a division by zero in every consumer), a
negative kernel size, an Input of 3 x 100000 x 100000 (30 G neurons, allocated by the first
simulator that trusts it). These checks refuse such files with a ``GraphError`` naming the
node and the field, before any consumer computes with them. Shape consistency between nodes
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
