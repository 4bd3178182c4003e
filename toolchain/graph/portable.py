"""The "portable" export profile: our graphs in the form other NIR loaders run as we do.

    to_portable(graph) -> (portable graph, {node: metadata moved out of the graph})

The default ("sbn") profile states its time base, dt = 1, only in the graph's ``sbn.dt``
metadata and sets r = tau / dt = 2 (k = 0.5), so that one model step is one unit of NIR time.
Loaders that assume the NIR paper's dt = 1e-4 (snntorch) or ignore ``r`` (norse) then run
another network. The portable profile rewrites the same network for those assumptions:

- LIF: dt = 1e-4, tau = dt / (1 - k), r = 1, v_leak = 0, v_reset = 0 and
  v_threshold = nextafter((1 - k) V_th, -inf). Forward Euler of tau dv/dt = -v + r I at dt
  gives v[t] = k v[t-1] + (1 - k) x[t], i.e. v = (1 - k) u: the model's potential scaled by
  (1 - k), so the threshold scales with it. The largest double below (1 - k) V_th keeps
  NIR's strict v > v_threshold equal to the model's u >= V_th (as in the sbn profile).
  Exact (bit for bit in float64) when 1 - k is a power of two (k = 0.5, the shipped value;
  0.75, 0.875, ...): dt / tau is then exactly 1 - k and scaling by a power of two commutes
  with rounding. For other k (0.25: gain 0.75) v and (1 - k) u differ by rounding, and a
  potential within a few ulps of V_th can flip a spike.
- IF (k = 1): r = 1 / dt, which is exact (1e-4 * 1e4 == 1.0 in float64).
- head: AvgPool2d over the final H x W -> Flatten -> Affine becomes one Conv2d over the
  final map ("head.fc", weights divided by H W, output (classes, 1, 1)). Several loaders turn
  NIR's Flatten(start_dim=0) into a batch-flattening ``nn.Flatten(0)``; a Conv2d needs no
  flatten. Same logits up to float64 rounding (another summation order), same spikes.
- no per-node metadata (``sbn.module``, ``sbn.phases``): older NIR readers (sinabs' pinned
  NIR) and some loaders choke on it. It is returned to be kept in manifest.json. The graph's
  own metadata stays, with ``sbn.dt`` = 1e-4 and ``sbn.profile`` = "portable", so that our
  executor and Lava target step the graph at the right dt.
"""

from __future__ import annotations

from typing import Any

import nir
import numpy as np

from sbn.errors import ExportError
from sbn.graph import conventions as cv

#: export profiles (``sbn export --profile``): "sbn", exact at dt = 1 with the toolchain's
#: own conventions and per-node metadata; "portable", this module's form
PROFILES = ("sbn", "portable")

#: the time base of portable graphs: what snntorch's NIR import assumes, and the NIR paper's
PORTABLE_DT = 1e-4

KEY_PROFILE = "sbn.profile"
THRESHOLD_RULE = (
    "spike when v > v_threshold (NIR); v = (1 - k) u, v_threshold = nextafter((1 - k) V_th, "
    "-inf) in float64, so that this equals the model's u >= V_th"
)
_HEAD = ("head.pool", "head.flatten", "head.fc")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ExportError(f"unknown profile {profile!r}: accepted profiles are {', '.join(PROFILES)}")
    return profile


def portable_lif(decay: float, v_th: float, shape: tuple[int, ...]) -> nir.NIRNode:
    """The portable NIR neuron (LIF, or IF for k = 1) for the model's (k, V_th)."""
    full = lambda value: np.full(shape, value, dtype=np.float64)
    if decay == 1.0:
        return nir.IF(
            r=full(cv.if_resistance(PORTABLE_DT)), v_threshold=full(cv.lif_threshold(v_th)), v_reset=full(0.0)
        )
    gain = 1.0 - decay
    return nir.LIF(
        tau=full(PORTABLE_DT / gain),
        r=full(1.0),
        v_leak=full(0.0),
        v_threshold=full(cv.lif_threshold(gain * v_th)),
        v_reset=full(0.0),
    )


def to_portable(graph: nir.NIRGraph) -> tuple[nir.NIRGraph, dict[str, dict[str, Any]]]:
    """The portable form of an sbn-profile graph from ``export_nir`` (see module doc)."""
    meta = dict(graph.metadata or {})
    if meta.get(cv.KEY_SCHEMA) != cv.SCHEMA or meta.get(KEY_PROFILE, "sbn") != "sbn":
        raise ExportError("to_portable takes a graph from export_nir (sbn profile)")
    decay, v_th = float(meta["sbn.lif_decay"]), float(meta["sbn.lif_v_th"])
    moved = {name: dict(node.metadata) for name, node in graph.nodes.items() if node.metadata}
    has_head = all(h in graph.nodes for h in _HEAD)  # full and edge graphs; not device
    nodes: dict[str, nir.NIRNode] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, (nir.LIF, nir.IF)):
            nodes[name] = portable_lif(decay, v_th, np.shape(node.v_threshold))
        elif not (has_head and name in _HEAD):
            nodes[name] = _without_metadata(node)
    edges = [tuple(e) for e in graph.edges]
    if has_head:
        edges = _head_as_conv(graph, nodes, edges)
    meta.update({cv.KEY_DT: PORTABLE_DT, KEY_PROFILE: "portable", cv.KEY_THRESHOLD: THRESHOLD_RULE})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=True), moved


def _head_as_conv(graph: nir.NIRGraph, nodes: dict, edges: list[tuple[str, str]]):
    """pool -> flatten -> fc as one Conv2d "head.fc" fed by what fed the pool; the pool's
    kernel is the whole map (the exporter's head), so the mean is a sum with weights / (H W).
    Outputs fed by the head become (classes, 1, 1). Returns the new edges."""
    pool, fc = graph.nodes["head.pool"], graph.nodes["head.fc"]
    h, w = _pool_window(pool)
    weight = np.asarray(fc.weight, dtype=np.float64)
    kernel = np.broadcast_to(weight[:, :, None, None] / (h * w), (*weight.shape, h, w)).copy()
    nodes["head.fc"] = nir.Conv2d(
        input_shape=(h, w),
        weight=kernel,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=np.asarray(fc.bias, dtype=np.float64).copy(),
    )
    heads = set(_HEAD)
    kept = [(u, v) for u, v in edges if u not in heads and v not in heads]
    kept += [(u, "head.fc") for u, v in edges if v == "head.pool"]
    for u, v in edges:
        if u == "head.fc":
            kept.append((u, v))
            if isinstance(nodes.get(v), nir.Output):
                nodes[v] = nir.Output(output_type=np.array([weight.shape[0], 1, 1]))
    return kept


def _pool_window(pool: nir.AvgPool2d) -> tuple[int, int]:
    kernel = np.atleast_1d(np.asarray(pool.kernel_size)).astype(int)
    h, w = (int(kernel[0]), int(kernel[-1]))
    shape = np.asarray(pool.input_type.get("input", [])).astype(int)
    if shape.size != 3 or (int(shape[1]), int(shape[2])) != (h, w):
        raise ExportError(
            f"head.pool does not cover the whole map ({shape.tolist()} with kernel "
            f"{kernel.tolist()}): the portable head needs the exporter's head"
        )
    return h, w


def _without_metadata(node: nir.NIRNode) -> nir.NIRNode:
    """A shallow copy with empty metadata (the sbn graph is left as it was)."""
    if not node.metadata:
        return node
    copy = type(node).__new__(type(node))
    copy.__dict__.update(node.__dict__)
    copy.metadata = {}
    return copy
