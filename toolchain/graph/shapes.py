"""Output shapes of every node of a NIR graph, filling in what third-party files leave out.

Nodes whose shape follows from their own parameters (neurons, Affine, Linear, Scale, Delay,
Input) seed the propagation; convolutions, pools, Flatten and Output take their input shape
from their predecessors. Works on graphs with cycles as long as every cycle passes through a
self-shaped node (true of every recurrent NIR graph: the recurrence goes through neurons).
"""

from __future__ import annotations

import math

import nir
import numpy as np

from sbn.errors import GraphError
from sbn.graph import node_types
from sbn.graph.checks import MAX_ELEMENTS

Shape = tuple[int, ...]


def check_supported(graph: nir.NIRGraph) -> None:
    """GraphError naming the first node of a type the toolchain does not know (see
    ``node_types``), or a nested graph (``sbn map`` places flat graphs)."""
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise GraphError(
                f"node {name}: nested NIRGraph subgraphs are not supported by sbn map; "
                "flatten the graph first"
            )
        node_types.lookup(name, node)


def _declared(types: dict | None, key: str) -> Shape | None:
    if not types or types.get(key) is None:
        return None
    arr = np.asarray(types[key]).reshape(-1)
    if arr.size == 0:
        return None
    return tuple(int(x) for x in arr)


def _pair(value, ndim: int) -> tuple[int, ...]:
    arr = np.asarray(value).reshape(-1)
    if arr.size == 1:
        return tuple(int(arr[0]) for _ in range(ndim))
    return tuple(int(x) for x in arr[:ndim])


def conv_output(node, in_shape: Shape, name: str) -> Shape:
    """Output shape of a Conv1d/Conv2d/SumPool2d/AvgPool2d from its input shape."""
    spatial = in_shape[1:]
    ndim = len(spatial)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        kernel = tuple(int(k) for k in node.weight.shape[2:])
        out_c = int(node.weight.shape[0])
        dilation = _pair(node.dilation, ndim)
        groups = int(np.asarray(node.groups).reshape(-1)[0])
        if int(node.weight.shape[1]) * groups != in_shape[0]:
            raise GraphError(
                f"node {name}: its weight reads {int(node.weight.shape[1]) * groups} input "
                f"channels ({node.weight.shape[1]} x {groups} groups), its input has "
                f"{in_shape[0]} (shape {in_shape})"
            )
    else:
        kernel = _pair(node.kernel_size, ndim)
        out_c = in_shape[0]
        dilation = (1,) * ndim
    if len(kernel) != ndim:
        raise GraphError(f"node {name}: a {len(kernel)}-d kernel cannot apply to input shape {in_shape}")
    stride = _pair(node.stride, ndim)
    pad = node.padding
    if isinstance(pad, np.ndarray) and pad.dtype.kind in "SUO":  # a string read back from HDF5
        pad = pad.reshape(-1)[0]
    if isinstance(pad, bytes):
        pad = pad.decode()
    if isinstance(pad, str):
        if pad == "same":
            return (out_c, *spatial)
        padding = (0,) * ndim
    else:
        padding = _pair(pad, ndim)
    out = tuple(
        math.floor((spatial[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1)
        for i in range(ndim)
    )
    if min(out) < 1:
        raise GraphError(f"node {name}: input shape {in_shape} is too small for its kernel {kernel}")
    return (out_c, *out)


def _own_shape(node) -> Shape | None:
    """Shape fixed by a node's own parameters, or None when it needs its input."""
    if isinstance(node, nir.Input):
        return _declared(node.input_type, "input")
    if node_types.TYPES[type(node)].own_shape:
        return _declared(node.output_type, "output")
    return None


def infer_shapes(graph: nir.NIRGraph) -> dict[str, Shape]:
    """Output shape of every node; GraphError naming a node whose shape cannot be found."""
    preds: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        if src not in graph.nodes or dst not in graph.nodes:
            raise GraphError(f"edge ({src!r}, {dst!r}) names a node that is not in the graph")
        preds[dst].append(src)
    shapes: dict[str, Shape] = {}
    for name, node in graph.nodes.items():
        node_types.lookup(name, node)  # an unknown type is refused, never passed through
        own = _own_shape(node)
        if own is not None:
            shapes[name] = own
    pending = [n for n in graph.nodes if n not in shapes]
    while pending:
        progress = []
        for name in pending:
            in_shape = _input_shape(graph, name, preds[name], shapes)
            if in_shape is None:
                continue
            shapes[name] = _apply(graph.nodes[name], in_shape, name)
            progress.append(name)
        if not progress:
            raise GraphError(
                f"node {pending[0]}: cannot infer its shape (no input type and no shaped "
                "predecessor); give the graph an Input node with a shape"
            )
        pending = [n for n in pending if n not in shapes]
    for name, node in graph.nodes.items():
        if math.prod(shapes[name]) > MAX_ELEMENTS:
            raise GraphError(
                f"node {name}: shape {shapes[name]} has more than the "
                f"{MAX_ELEMENTS:,} elements a node may have"
            )
        _check_incoming(name, node, preds[name], shapes)
    return shapes


def _check_incoming(name: str, node, preds: list[str], shapes: dict[str, Shape]) -> None:
    """What reaches ``name`` must be one size, and the size the node reads: a node that
    shapes itself (a neuron, a dense layer) was not checked while its shape was found."""
    if not preds:
        return
    incoming = {shapes[p] for p in preds}
    sizes = {math.prod(s) for s in incoming}
    if len(sizes) > 1:
        raise GraphError(
            f"node {name}: incoming shapes {sorted(incoming)} cannot be summed (different sizes)"
        )
    size = sizes.pop()
    if isinstance(node, (nir.Affine, nir.Linear)):
        reads = int(node.weight.shape[-1])
    elif isinstance(node, (*node_types.NEURONS, nir.Scale, nir.Delay)):
        reads = math.prod(shapes[name])
    else:
        return
    if reads != size:
        raise GraphError(
            f"node {name}: reads {reads} values per step, its input {sorted(incoming)[0]} has {size}"
        )


def _input_shape(graph, name: str, preds: list[str], shapes: dict[str, Shape]) -> Shape | None:
    declared = _declared(graph.nodes[name].input_type, "input")
    if not preds:
        return declared
    if any(p not in shapes for p in preds):
        return declared
    incoming = {shapes[p] for p in preds}
    sizes = {math.prod(s) for s in incoming}
    if len(sizes) > 1:
        raise GraphError(
            f"node {name}: incoming shapes {sorted(incoming)} cannot be summed (different sizes)"
        )
    if declared is not None and math.prod(declared) == sizes.pop():
        return declared
    return max(incoming, key=len)


def _apply(node, in_shape: Shape, name: str) -> Shape:
    if isinstance(node, (nir.Conv1d, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d)):
        if len(in_shape) < 2:
            raise GraphError(f"node {name}: needs a (channels, spatial...) input, got shape {in_shape}")
        return conv_output(node, in_shape, name)
    if isinstance(node, nir.Flatten):
        start = node.start_dim % len(in_shape) if len(in_shape) else 0
        end = node.end_dim % len(in_shape) if len(in_shape) else 0
        return (*in_shape[:start], math.prod(in_shape[start : end + 1]), *in_shape[end + 1 :])
    return in_shape  # Output
