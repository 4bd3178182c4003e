"""A NIR device graph in a chip's integer formats: ``quantize(graph, target) -> Quantized``.

The graph must be in *layer form*: every neuron (LIF, IF) receives a sum of projections,
each either a ``Conv2d`` whose input is one neuron or Input node, or an identity edge from
another neuron (a residual shortcut). That is what ``sbn export`` writes for the device half
(batch norm already folded into each convolution). Anything else is refused, naming the node.

Units. Each neuron node n gets one scale sigma_n: a float input x becomes ``sigma_n x``
integer units of synaptic input (Lava's ``a_in``), and the neuron's state is ``64 sigma_n``
times its float potential (Lava shifts ``a_in`` and ``vth`` left by ``threshold_shift`` = 6).
sigma_n is chosen from the threshold: ``vth = 2**(state_bits - 1 - threshold_shift -
headroom_bits)`` integer units, lowered (to a whole ``vth``) only where a weight or a bias
would not fit its format at that scale; the threshold itself is then exact (``sigma_n = vth /
V_th``, V_th the graph's). The 24-bit state holds ``2**headroom_bits`` thresholds: the
voltage ``v`` saturates there, but the current ``u = a_in << 6`` (this step's summed input)
*wraps*, once, by ``2**24`` (Lava's ``subthr_dynamics``): an input of more than
``2**headroom_bits`` thresholds becomes a large negative current. Each neuron group whose
worst-case summed input (all projections, every input at its peak) can get there gets a
note naming it, its reach in thresholds and the headroom that would hold it (``wraps``).

Ties. Both models fire strictly above the threshold (NIR's ``v > v_threshold``, the export's
``nextafter(V_th, -inf)``; Lava's ``v > vth << 6``, the same number at this scale). Where a
step's float input sums to exactly V_th (spikes through weights of V_th, e.g. an identity
shortcut at gain 1), the float model fires and the chip, whose inputs come in whole units
of ``a_in`` (64 state units), lands exactly on ``vth << 6`` and does not. No scale removes
it: ``sigma = (64 vth + 1) / (64 V_th)`` rounds every weight as before (measured: the same
spikes, agreement and 18 tied slots of 983,040 on a small SpikeBottleNet, 16 images, T 4).

Formats (Loihi 2 as Lava 0.10's bit-accurate models define it, ``Target.fixed_point``):

- weights: ``w = m * 2**e``, signed ``weight_mant_bits`` mantissa m, one exponent e per
  projection (Lava's ``Conv`` and ``Dense`` take one ``weight_exp`` per process), the
  smallest e that holds the largest weight; ``m = round(sigma_n g W / 2**e)``, g the neuron's
  input gain ``(dt/tau) r``; graded inputs (pixels) are integers ``round(x * input_max)``;
- neuron: ``du = 4095`` (u is this step's input), ``dv = round(4096 dt / tau)`` (IF: 0),
  ``vth``; bias (folded batch norm and ``v_leak``) per neuron as a 13-bit mantissa and a
  3-bit exponent: ``round(64 sigma_n b) = bias_mant * 2**bias_exp``.

A value no format holds (a threshold of 0, a decay outside [0, 4095], a weight or bias that
would need sigma < 1/V_th, ...) raises ``MappingError`` naming node, value and range.

The result is plain data, saved as one safetensors file (``save`` / ``load``: tensors and
JSON metadata, no code) beside the export, so a fixed-point run is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import nir
import numpy as np

from sbn.errors import ConfigError, MappingError, OutputError
from sbn.fileio import shown
from sbn.graph import conventions
from sbn.graph.schedule import flatten_graph

SCHEMA = "sbn.quantized/1"
NEURON_TYPES = (nir.LIF, nir.IF)
#: default bits of headroom above the threshold in the 24-bit state (see module docstring)
HEADROOM_BITS = 6
#: Lava's effective current decay is du + 1 (``ds_offset``): 4095 makes u this step's input
DU_NO_MEMORY = 4095
#: a projection whose largest |mantissa| is below this keeps at most 15 weight levels
#: (-7..7, under 4 of the 8 mantissa bits): its layer barely resembles the float one
COARSE_MANTISSA = 8


@dataclass(frozen=True)
class NeuronQ:
    """One neuron node in integers (Lava ``LIF`` parameters); arrays in NIR's layout."""

    name: str
    shape: tuple[int, ...]
    sigma: float  # integer input units per float unit
    vth: int
    du: int
    dv: int
    bias_mant: np.ndarray  # int, per neuron
    bias_exp: np.ndarray  # int, per neuron


@dataclass(frozen=True)
class ProjectionQ:
    """Synapses into ``target``: a Conv2d node (``name`` is the node) or an identity edge."""

    name: str
    kind: str  # "conv" | "identity"
    source: str
    target: str
    weight_mant: np.ndarray  # conv: NIR layout (O, C/g, kh, kw); identity: shape ()
    weight_exp: int
    graded: bool  # the source is a graded Input (integer messages), not spikes

    @property
    def weight(self) -> np.ndarray:
        """The effective integer weights ``m * 2**e`` (int64)."""
        return self.weight_mant.astype(np.int64) << self.weight_exp


@dataclass(frozen=True)
class Quantized:
    """A device graph's fixed-point parameters for one target."""

    target: str
    format: dict  # the target's fixed_point fields
    graph_sha256: str
    dt: float
    headroom_bits: int
    inputs: dict[str, tuple[int, ...]]  # Input node -> shape (graded, scaled by input_max)
    input_scale: int
    neurons: dict[str, NeuronQ]
    projections: dict[str, ProjectionQ]
    outputs: dict[str, str]  # Output node -> the neuron feeding it
    notes: list[str] = field(default_factory=list)
    #: projections whose non-zero float weights kept a peak |mantissa| < COARSE_MANTISSA:
    #: name -> that peak. What this run found, not a parameter: not saved, empty on ``load``
    coarse: dict[str, int] = field(default_factory=dict)
    #: neuron groups whose summed input can wrap Lava's current (see ``input_range``): name ->
    #: the worst-case reach in thresholds. Found by this run, like ``coarse``: not saved
    wraps: dict[str, float] = field(default_factory=dict)

    def into(self, neuron: str) -> list[ProjectionQ]:
        return [p for p in self.projections.values() if p.target == neuron]


# ---- layer form ----------------------------------------------------------------------------


def layer_form(graph: nir.NIRGraph):
    """(nodes, inputs, neurons in order, projections (name, kind, src, dst), outputs) or
    MappingError naming the first node that does not fit."""
    flat, edges = flatten_graph(graph)
    g = nx.DiGraph()
    g.add_nodes_from(flat)
    g.add_edges_from(edges)
    if not nx.is_directed_acyclic_graph(g):
        cycle = nx.find_cycle(g)
        raise MappingError(
            f"node {cycle[0][0]}: recurrent connections cannot run on the fixed-point "
            "device path (it pipelines samples through feed-forward layers)"
        )
    for name, node in sorted(flat.items()):
        if not isinstance(node, (nir.Input, nir.Output, nir.Conv2d, *NEURON_TYPES)):
            raise MappingError(
                f"node {name}: NIR type {type(node).__name__} has no fixed-point mapping; the device "
                "path runs Input, Conv2d, LIF, IF, identity shortcuts and Output"
            )
    inputs, neurons, outputs, projections = {}, [], {}, []
    for name in nx.lexicographical_topological_sort(g):
        node = flat[name]
        preds, succs = sorted(g.predecessors(name)), sorted(g.successors(name))
        if isinstance(node, nir.Input):
            inputs[name] = tuple(int(d) for d in np.atleast_1d(node.input_type["input"]))
            for s in succs:
                if not isinstance(flat[s], nir.Conv2d):
                    raise MappingError(
                        f"node {s}: an Input feeds it directly; on the chip a graded "
                        "input enters through a Conv2d"
                    )
        elif isinstance(node, NEURON_TYPES):
            neurons.append(name)
            for p in preds:
                if isinstance(flat[p], NEURON_TYPES):
                    projections.append((f"{p}->{name}", "identity", p, name))
                elif not isinstance(flat[p], nir.Conv2d):
                    raise MappingError(
                        f"node {name}: input from {p} ({type(flat[p]).__name__}); a "
                        "neuron takes Conv2d outputs and identity shortcuts"
                    )
        elif isinstance(node, nir.Conv2d):
            if len(preds) != 1 or not isinstance(flat[preds[0]], (nir.Input, *NEURON_TYPES)):
                raise MappingError(
                    f"node {name}: a Conv2d must read exactly one neuron or Input "
                    f"node, reads {', '.join(preds) or 'nothing'}"
                )
            if len(succs) != 1 or not isinstance(flat[succs[0]], NEURON_TYPES):
                raise MappingError(
                    f"node {name}: a Conv2d must feed exactly one neuron node (the "
                    f"chip sums synapses into compartments), feeds {', '.join(succs) or 'nothing'}"
                )
            projections.append((name, "conv", preds[0], succs[0]))
        elif isinstance(node, nir.Output):
            if len(preds) != 1 or not isinstance(flat[preds[0]], NEURON_TYPES):
                raise MappingError(
                    f"node {name}: an Output must read one neuron node (spikes leave "
                    "the chip), reads " + (", ".join(preds) or "nothing")
                )
            outputs[name] = preds[0]
    if not outputs:
        raise MappingError("the graph has no Output node: nothing leaves the chip")
    return flat, inputs, neurons, projections, outputs


# ---- quantisation --------------------------------------------------------------------------


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _uniform(name: str, what: str, value) -> float:
    arr = _f(value).ravel()
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise MappingError(f"node {name}: {what} must be finite, got {arr[:3].tolist()}")
    if not (arr == arr[0]).all():
        raise MappingError(
            f"node {name}: {what} differs between neurons ({np.unique(arr)[:3].tolist()}"
            "...); Lava's LIF holds one value per process"
        )
    return float(arr[0])


def _neuron_dynamics(name: str, node, dt: float, chip: str) -> tuple[float, float, np.ndarray, float]:
    """(input gain g, decay 1 - k, float bias from v_leak per neuron, threshold)."""
    shape = np.shape(node.v_threshold)
    if np.any(_f(node.v_reset) != 0):
        raise MappingError(
            f"node {name}: v_reset = {np.unique(_f(node.v_reset))[:3].tolist()}; "
            f"{chip}'s LIF resets to 0 (range: 0)"
        )
    if isinstance(node, nir.LIF):
        a = dt / _uniform(name, "tau", node.tau)
        gain = a * _uniform(name, "r", node.r)
        leak = np.broadcast_to(a * _f(node.v_leak), shape)
    else:
        a = 0.0
        gain = dt * _uniform(name, "r", node.r)
        leak = np.zeros(shape)
    vth = _uniform(name, "v_threshold", node.v_threshold)
    if not vth > 0:
        raise MappingError(f"node {name}: v_threshold = {vth}; {chip}'s threshold is unsigned (range: > 0)")
    return gain, a, leak, vth


def _exponent(name: str, values: np.ndarray, fmt, chip: str) -> int:
    """Smallest exponent in the format's range whose mantissas hold ``values``."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    for e in range(fmt.weight_exp_min, fmt.weight_exp_max + 1):
        m = np.rint(values / 2.0**e)
        if m.size == 0 or (m.min() >= fmt.weight_mant_min and m.max() <= fmt.weight_mant_max):
            return e
    limit = fmt.weight_mant_max * 2**fmt.weight_exp_max
    raise MappingError(
        f"node {name}: weight {peak:g} integer units exceeds {chip}'s range "
        f"(|w| <= {limit} = {fmt.weight_mant_max} * 2**{fmt.weight_exp_max})"
    )


def _bias(name: str, values: np.ndarray, fmt, chip: str) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron: the smallest bias exponent that holds it, and the mantissa."""
    exp = np.full(values.shape, -1, dtype=np.int64)
    mant = np.zeros(values.shape, dtype=np.int64)
    for e in range(0, fmt.bias_exp_max + 1):
        m = np.rint(values / 2.0**e)
        take = (exp < 0) & (m >= fmt.bias_mant_min) & (m <= fmt.bias_mant_max)
        exp[take], mant[take] = e, m[take]
    bad = exp < 0
    if bad.any():
        worst = float(values[bad].flat[np.argmax(np.abs(values[bad]))])
        raise MappingError(
            f"node {name}: bias {worst:g} state units exceeds {chip}'s range "
            f"(|b| <= {fmt.bias_mant_max} * 2**{fmt.bias_exp_max})"
        )
    return mant, exp


def headroom_range(fmt) -> tuple[int, int]:
    """The headroom bits that leave a threshold in ``fmt``: ``vth = 2**(state_bits - 1 -
    threshold_shift - headroom)`` must be a whole number (headroom <= state_bits - 1 -
    threshold_shift) that fits the unsigned ``threshold_bits`` (vth <= 2**threshold_bits - 1).
    Loihi 2 (24-bit state, shift 6, 17-bit threshold): 1..17. Empty (low > high) where the
    formats leave no threshold at all."""
    high = fmt.state_bits - 1 - fmt.threshold_shift
    return max(0, high - fmt.threshold_bits + 1), high


def full_threshold(fmt, headroom_bits: int) -> int:
    """``vth = 2**(state_bits - 1 - threshold_shift - headroom_bits)``: the threshold every
    neuron gets unless one of its weights or biases would not fit at that scale."""
    return 2 ** (fmt.state_bits - 1 - fmt.threshold_shift - headroom_bits)


def threshold_scale(v_threshold: float, full: int, sigma_cap: float = math.inf) -> tuple[int, float]:
    """(vth, sigma) for a neuron whose graph threshold is ``v_threshold``: ``vth = full`` and
    ``sigma = vth / v_threshold`` unless that sigma exceeds ``sigma_cap`` (the largest scale its
    weights and biases fit at); then the largest whole vth whose sigma stays within the cap.
    ``sbn.qat`` rounds with this very sigma. The threshold is exact either way: the state
    ``64 sigma v_threshold`` is ``64 vth``, Lava's ``vth << 6``, and both models fire strictly
    above it (NIR's ``v > v_threshold``, Lava's ``v > vth << 6``)."""
    # full / v * v can come out a hair below full in floating point: never floor it
    if full / v_threshold <= sigma_cap:
        return full, full / v_threshold
    vth = math.floor(sigma_cap * v_threshold)
    if (vth + 1) / v_threshold <= sigma_cap:  # the floor of a rounded product may be one short
        vth += 1
    return vth, vth / v_threshold


def require_format(target):
    """The target's ``fixed_point`` formats, or a ConfigError saying it has none."""
    fmt = getattr(target, "fixed_point", None)
    if fmt is None:
        raise ConfigError(
            f"target {target.name!r} states no fixed-point format (field "
            "'fixed_point'); quantisation needs one, e.g. --target loihi2"
        )
    return fmt


def quantize(
    graph: nir.NIRGraph, target, *, headroom_bits: int = HEADROOM_BITS, dt: float | None = None
) -> Quantized:
    """Fixed-point parameters of ``graph`` (layer form) in ``target``'s formats."""
    fmt = require_format(target)
    low, high = headroom_range(fmt)
    if (
        isinstance(headroom_bits, bool)
        or not isinstance(headroom_bits, int)
        or not low <= headroom_bits <= high
    ):
        raise ConfigError(
            f"headroom of {headroom_bits} bits leaves no threshold in the formats of target "
            f"{target.name!r}: give {low}..{high} bits (the threshold 2**({high} - headroom) must hold "
            f"1..{fmt.threshold_max}, {fmt.threshold_bits} bits)"
        )
    flat, inputs, neurons, projections, outputs = layer_form(graph)
    step = dt if dt is not None else (conventions.graph_dt(graph.metadata) or conventions.DEFAULT_DT)
    neuron_q, proj_q, notes, coarse, wraps = {}, {}, [], {}, {}
    for n in neurons:
        group = _Group(n, flat, inputs, [p for p in projections if p[3] == n], step, fmt, target.name)
        nq, pq, note = group.at(headroom_bits)
        neuron_q[n] = nq
        proj_q.update(pq)
        if note:
            notes.append(note)
        for p in pq.values():
            peak = int(np.max(np.abs(p.weight_mant))) if p.weight_mant.size else 0
            # weights that are zero in the graph too lost nothing (a zero-initialised layer)
            if peak < COARSE_MANTISSA and np.any(group.weights[p.name] != 0):
                coarse[p.name] = peak
        wrap = _wrap_note(group, nq, pq, headroom_bits, high, fmt)
        if wrap:
            wraps[n] = wrap[0]
            notes.append(wrap[1])
    return Quantized(
        target=target.name,
        format=fmt.to_dict(),
        graph_sha256=graph_digest(graph),
        dt=float(step),
        headroom_bits=int(headroom_bits),
        inputs=inputs,
        input_scale=int(fmt.input_max),
        neurons=neuron_q,
        projections=proj_q,
        outputs=outputs,
        notes=notes,
        coarse=coarse,
        wraps=wraps,
    )


class _Group:
    """One neuron node and the projections into it, in float (gain and pixel scale folded
    in); ``at(headroom)`` gives its integers at that headroom."""

    def __init__(self, n: str, flat: dict, inputs: dict, into: list, step: float, fmt, chip: str):
        self.name, self.node, self.fmt, self.chip = n, flat[n], fmt, chip
        self.into, self.inputs = into, inputs
        gain, a, leak, self.v_threshold = _neuron_dynamics(n, self.node, step, chip)
        self.dv = int(np.rint(fmt.decay_unity * a))
        if not 0 <= self.dv < fmt.decay_unity:
            raise MappingError(
                f"node {n}: decay dt/tau = {a:g} gives dv = {self.dv}; {chip}'s dv holds "
                f"0..{fmt.decay_unity - 1} (dt/tau < 1)"
            )
        bias = leak.astype(np.float64).copy()
        self.weights = {}
        for name, kind, src, _ in into:
            if kind == "conv":
                conv = flat[name]
                bias = bias + gain * _f(conv.bias).reshape(-1, *([1] * (bias.ndim - 1)))
                w = gain * _f(conv.weight)
                if src in inputs:
                    w = w / fmt.input_max
            else:
                w = np.asarray(gain)
            self.weights[name] = w
        self.bias = bias
        # the largest scale every weight and bias fits at
        self.w_peak = max((float(np.max(np.abs(w))) for w in self.weights.values() if w.size), default=0.0)
        self.b_peak = float(np.max(np.abs(bias))) if bias.size else 0.0
        caps = {}
        if self.w_peak > 0:
            caps["weights"] = fmt.weight_mant_max * 2**fmt.weight_exp_max / self.w_peak
        if self.b_peak > 0:
            caps["bias"] = fmt.bias_mant_max * 2**fmt.bias_exp_max / (2**fmt.threshold_shift * self.b_peak)
        self.cap = min(caps.values(), default=math.inf)
        self.capped_by = " and ".join(k for k, v in caps.items() if v == self.cap)

    def at(self, headroom_bits: int) -> tuple[NeuronQ, dict[str, ProjectionQ], str | None]:
        fmt, n = self.fmt, self.name
        full = full_threshold(fmt, headroom_bits)
        vth, sigma = threshold_scale(self.v_threshold, full, self.cap)
        if vth < 1:
            raise MappingError(
                f"node {n}: weights up to {self.w_peak:g} and bias up to {self.b_peak:g} against "
                f"a threshold of {self.v_threshold:g} leave no integer threshold in {self.chip}'s "
                "formats (vth >= 1)"
            )
        note = None
        if vth < full:
            note = (
                f"{n}: threshold {vth} < {full} integer units (its {self.capped_by} would not fit at {full})"
            )
        proj = {}
        for name, kind, src, _ in self.into:
            scaled = sigma * self.weights[name]
            e = _exponent(name, scaled, fmt, self.chip)
            mant = np.rint(scaled / 2.0**e).astype(np.int64)
            proj[name] = ProjectionQ(name, kind, src, n, mant, e, src in self.inputs)
        bmant, bexp = _bias(n, 2**fmt.threshold_shift * sigma * self.bias, fmt, self.chip)
        shape = tuple(np.shape(self.node.v_threshold))
        return NeuronQ(n, shape, sigma, vth, DU_NO_MEMORY, self.dv, bmant, bexp), proj, note


def input_range(projections, fmt) -> tuple[int, int]:
    """(most, least) summed synaptic input ``a_in`` one neuron of a group can receive in a step,
    over all its projections, every input at its peak where that weight is positive (most) or
    negative (least): spikes are 0/1, graded inputs 0..input_max, identity edges one spike."""
    most = least = 0
    for p in projections:
        w = p.weight.reshape(p.weight.shape[0], -1) if p.kind == "conv" else p.weight.reshape(1, 1)
        peak = fmt.input_max if p.graded else 1
        most = most + np.clip(w, 0, None).sum(axis=1) * peak
        least = least + np.clip(w, None, 0).sum(axis=1) * peak
    return int(np.max(most)), int(np.min(least))


def current_limit(fmt) -> int:
    """The largest ``a_in`` Lava's current holds: ``u = a_in << threshold_shift`` (du 4095: no
    memory) and ``AbstractPyLifModelFixed.subthr_dynamics`` wraps it once by ``2**state_bits``
    where ``u > 2**(state_bits - 1)`` or ``u <= -2**(state_bits - 1)``: it does not saturate."""
    return fmt.state_max >> fmt.threshold_shift


def _fits(projections, fmt) -> bool:
    most, least = input_range(projections, fmt)
    limit = current_limit(fmt)
    accumulator = max((_conv_reach(p, fmt) for p in projections if p.kind == "conv"), default=0)
    return most <= limit and least > -limit and accumulator <= fmt.accumulator_max


def _conv_reach(p, fmt) -> int:
    # one Conv's own sum wraps at the accumulator width (``signed_clamp``) before it reaches u
    peak = fmt.input_max if p.graded else 1
    return int(np.abs(p.weight).reshape(p.weight.shape[0], -1).sum(axis=1).max()) * peak


def _wrap_note(group: _Group, nq: NeuronQ, proj: dict, headroom: int, high: int, fmt):
    """(worst-case reach in thresholds, a note) where a step's summed input can wrap Lava's
    current (a large positive input becomes a large negative one), else None."""
    if _fits(proj.values(), fmt):
        return None
    most, least = input_range(proj.values(), fmt)
    reach = max(most, -least, *(_conv_reach(p, fmt) for p in proj.values() if p.kind == "conv")) / nq.vth
    fit = next((h for h in range(headroom + 1, high + 1) if _fits(group.at(h)[1].values(), fmt)), None)
    advice = f"--headroom-bits {fit} holds it" if fit else f"no headroom up to {high} bits holds it"
    return reach, (
        f"{nq.name}: its summed input can reach {reach:.1f} thresholds in one step, beyond the "
        f"{current_limit(fmt) / nq.vth:.4g} its {fmt.state_bits}-bit current holds at "
        f"--headroom-bits {headroom}; Lava wraps such a "
        f"current (a large positive input becomes a large negative one); {advice}"
    )


def graph_digest(graph: nir.NIRGraph) -> str:
    """A digest of the graph's nodes, parameters and edges: a saved quantisation names the
    graph it belongs to."""
    flat, edges = flatten_graph(graph)
    h = hashlib.sha256()
    for name in sorted(flat):
        node = flat[name]
        h.update(f"{name}:{type(node).__name__};".encode())
        for key in sorted(vars(node)):
            if key in ("metadata", "input_type", "output_type"):
                continue
            value = getattr(node, key)
            if isinstance(value, (np.ndarray, int, float, tuple, list)) and not isinstance(value, bool):
                arr = np.ascontiguousarray(_f(value)) if np.asarray(value).dtype.kind in "biuf" else None
                h.update(key.encode() + (arr.tobytes() if arr is not None else repr(value).encode()))
    for a, b in sorted(edges):
        h.update(f"{a}>{b};".encode())
    return h.hexdigest()


# ---- one file: safetensors tensors + JSON metadata -----------------------------------------


def save(path: str | os.PathLike, q: Quantized) -> None:
    """Write ``q`` atomically; integer tensors, the rest as JSON metadata. OutputError
    where the file system refuses (safetensors reports a full disk as its own error)."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    from sbn.fileio import atomic_path

    tensors = {}
    for n in q.neurons.values():
        tensors[f"neuron/{n.name}/bias_mant"] = np.ascontiguousarray(n.bias_mant, dtype=np.int32)
        tensors[f"neuron/{n.name}/bias_exp"] = np.ascontiguousarray(n.bias_exp, dtype=np.int32)
    for p in q.projections.values():
        tensors[f"projection/{p.name}/weight_mant"] = np.ascontiguousarray(
            p.weight_mant, dtype=np.int32
        ).reshape(p.weight_mant.shape or (1,))
    meta = {
        "schema": SCHEMA,
        "target": q.target,
        "format": q.format,
        "graph_sha256": q.graph_sha256,
        "dt": q.dt,
        "headroom_bits": q.headroom_bits,
        "input_scale": q.input_scale,
        "inputs": {k: list(v) for k, v in q.inputs.items()},
        "outputs": q.outputs,
        "notes": q.notes,
        "neurons": {
            n.name: {"shape": list(n.shape), "sigma": n.sigma, "vth": n.vth, "du": n.du, "dv": n.dv}
            for n in q.neurons.values()
        },
        "projections": {
            p.name: {
                "kind": p.kind,
                "source": p.source,
                "target": p.target,
                "weight_exp": p.weight_exp,
                "graded": p.graded,
                "shape": list(p.weight_mant.shape),
            }
            for p in q.projections.values()
        },
    }
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata={"sbn": json.dumps(meta)})
        except SafetensorError as exc:  # its I/O errors (a full disk) are not OSErrors
            raise OutputError(f"{path}: not written ({exc})") from None


def save_in_export(export_dir: str | os.PathLike, q: Quantized) -> Path:
    """Write ``q`` as ``device.<target>.safetensors`` in an `sbn export` folder and record it in
    the folder's manifest.json under ``quantized.<target>`` (under a lock: another run may
    record its own target at the same time). Returns the file written."""
    from sbn.fileio import locked, write_json
    from sbn.graph.manifest_read import read_manifest

    folder = Path(export_dir)
    out = folder / f"device.{q.target}.safetensors"
    save(out, q)
    manifest = folder / "manifest.json"
    with locked(manifest):
        current = read_manifest(folder, against_graphs=False)
        current.setdefault("quantized", {})[q.target] = out.name
        write_json(manifest, current)
    return out


def is_quantisation_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a safetensors file ``save`` wrote (its schema, nothing checked
    further): to tell it from a training checkpoint in messages and before replacing it."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta = json.loads((f.metadata() or {}).get("sbn", "null"))
    except (SafetensorError, OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("schema") == SCHEMA


def load(path: str | os.PathLike, target=None, graph: nir.NIRGraph | None = None) -> Quantized:
    """Read a file written by ``save``, checked field by field: types, shapes (against each
    other and, given ``graph``, against that device graph, which the file must have been
    made from) and ranges (against the file's own formats, and given ``target``, the file
    must be for that target and its formats). Each refusal is a ConfigError naming the file
    and the field."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            raw = (f.metadata() or {}).get("sbn")
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such quantisation file") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a safetensors quantisation file ({exc})") from None
    try:
        meta = json.loads(raw or "")
    except json.JSONDecodeError:
        raise ConfigError(f"{path}: no 'sbn' metadata; expected a file written by `sbn quantize`") from None
    if not isinstance(meta, dict):
        raise ConfigError(
            f"{path}: metadata 'sbn' is {shown(meta)}; expected a JSON object written by `sbn quantize`"
        )
    if meta.get("schema") != SCHEMA:
        raise ConfigError(f"{path}: schema {meta.get('schema')!r}, expected {SCHEMA!r}")
    return _Reader(path, meta, tensors).read(target, graph)


class _Reader:
    """The checks of ``load``: each method returns a field's value or raises a ConfigError
    naming the file, the field, what it holds and what is accepted."""

    def __init__(self, path: Path, meta: dict, tensors: dict[str, np.ndarray]):
        self.path, self.meta, self.tensors = path, meta, tensors

    def bad(self, field: str, value, accepted: str) -> ConfigError:
        return ConfigError(f"{self.path}: {field} is {shown(value)}; accepted: {accepted}")

    def get(self, table: dict, key: str, field: str):
        if key not in table:
            raise ConfigError(f"{self.path}: missing entry {field!r}")
        return table[key]

    def whole(self, table: dict, key: str, field: str, low: int, high: int) -> int:
        value = self.get(table, key, field)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.bad(field, value, f"a whole number in {low}..{high}")
        return value

    def positive(self, table: dict, key: str, field: str) -> float:
        value = self.get(table, key, field)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not value > 0
        ):
            raise self.bad(field, value, "a finite number > 0")
        return float(value)

    def text(self, table: dict, key: str, field: str, choices=None) -> str:
        value = self.get(table, key, field)
        if not isinstance(value, str) or not value or (choices is not None and value not in choices):
            accepted = "a non-empty string" if choices is None else ", ".join(map(repr, sorted(choices)))
            raise self.bad(field, value, accepted)
        return value

    def table(self, table: dict, key: str, field: str) -> dict:
        value = self.get(table, key, field)
        if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
            raise self.bad(field, value, "a JSON object keyed by node name")
        return value

    def dims(self, table: dict, key: str, field: str) -> tuple[int, ...]:
        value = self.get(table, key, field)
        if not isinstance(value, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 2**31 for d in value
        ):
            raise self.bad(field, value, "a list of positive whole numbers")
        return tuple(value)

    def tensor(self, key: str, shape: tuple[int, ...], low: int, high: int) -> np.ndarray:
        field = f"tensor {key!r}"
        if key not in self.tensors:
            raise ConfigError(f"{self.path}: missing entry {key!r}")
        arr = self.tensors[key]
        if arr.dtype.kind not in "iu":
            raise ConfigError(f"{self.path}: {field} holds {arr.dtype}; accepted: integers")
        if arr.shape != shape:
            raise ConfigError(f"{self.path}: {field} has shape {list(arr.shape)}; accepted: {list(shape)}")
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < low or arr.max() > high):
            worst = int(arr.min()) if arr.min() < low else int(arr.max())
            raise ConfigError(f"{self.path}: {field} holds {worst}; accepted: {low}..{high}")
        return arr

    def read(self, target, graph) -> Quantized:
        from sbn.targets.spec import FixedPointFormat

        meta, path = self.meta, self.path
        name = self.text(meta, "target", "target")
        fmt = FixedPointFormat.from_dict(self.get(meta, "format", "format"), where=f"{path}: format")
        if target is not None:
            if name != target.name:
                raise ConfigError(
                    f"{path}: a quantisation for target {name!r}, not {target.name!r}; run "
                    f"`sbn quantize --target {target.name}` (or give that target's file)"
                )
            if require_format(target).to_dict() != fmt.to_dict():
                raise ConfigError(
                    f"{path}: format differs from target {target.name!r}'s fixed_point formats; "
                    "run `sbn quantize` again for this target"
                )
        digest = self.text(meta, "graph_sha256", "graph_sha256")
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise self.bad("graph_sha256", digest, "64 hexadecimal digits (a sha256)")
        dt = self.positive(meta, "dt", "dt")
        low, high = headroom_range(fmt)
        headroom = self.whole(meta, "headroom_bits", "headroom_bits", low, high)
        scale = self.whole(meta, "input_scale", "input_scale", fmt.input_max, fmt.input_max)
        inputs = {
            k: self.dims(self.table(meta, "inputs", "inputs"), k, f"inputs.{k}")
            for k in self.table(meta, "inputs", "inputs")
        }
        neurons = {}
        for n, v in self.table(meta, "neurons", "neurons").items():
            where = f"neurons.{n}"
            if not isinstance(v, dict):
                raise self.bad(where, v, "a JSON object (shape, sigma, vth, du, dv)")
            shape = self.dims(v, "shape", f"{where}.shape")
            neurons[n] = NeuronQ(
                n,
                shape,
                self.positive(v, "sigma", f"{where}.sigma"),
                self.whole(v, "vth", f"{where}.vth", 1, fmt.threshold_max),
                self.whole(v, "du", f"{where}.du", 0, fmt.decay_unity - 1),
                self.whole(v, "dv", f"{where}.dv", 0, fmt.decay_unity - 1),
                self.tensor(f"neuron/{n}/bias_mant", shape, fmt.bias_mant_min, fmt.bias_mant_max),
                self.tensor(f"neuron/{n}/bias_exp", shape, 0, fmt.bias_exp_max),
            )
        if not neurons:
            raise self.bad("neurons", {}, "one entry per neuron node of the device graph")
        projections = {}
        for p, v in self.table(meta, "projections", "projections").items():
            where = f"projections.{p}"
            if not isinstance(v, dict):
                raise self.bad(where, v, "a JSON object (kind, source, target, weight_exp, graded, shape)")
            kind = self.text(v, "kind", f"{where}.kind", {"conv", "identity"})
            source = self.text(v, "source", f"{where}.source", set(neurons) | set(inputs))
            dest = self.text(v, "target", f"{where}.target", set(neurons))
            graded = self.get(v, "graded", f"{where}.graded")
            if graded is not (source in inputs):
                raise self.bad(
                    f"{where}.graded", graded, f"{source in inputs} (whether the source is an Input node)"
                )
            shape = self.dims(v, "shape", f"{where}.shape")
            if len(shape) != (4 if kind == "conv" else 0):
                raise self.bad(
                    f"{where}.shape", list(shape), "[O, C/g, kh, kw] for a conv, [] for an identity"
                )
            mant = self.tensor(
                f"projection/{p}/weight_mant", shape or (1,), fmt.weight_mant_min, fmt.weight_mant_max
            ).reshape(shape)
            exp = self.whole(v, "weight_exp", f"{where}.weight_exp", fmt.weight_exp_min, fmt.weight_exp_max)
            projections[p] = ProjectionQ(p, kind, source, dest, mant, exp, graded)
        outputs = {
            k: self.text(self.table(meta, "outputs", "outputs"), k, f"outputs.{k}", set(neurons))
            for k in self.table(meta, "outputs", "outputs")
        }
        notes = meta.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(x, str) for x in notes):
            raise self.bad("notes", notes, "a list of strings")
        q = Quantized(
            target=name,
            format=fmt.to_dict(),
            graph_sha256=digest,
            dt=dt,
            headroom_bits=headroom,
            input_scale=scale,
            inputs=inputs,
            neurons=neurons,
            projections=projections,
            outputs=outputs,
            notes=list(notes),
        )
        if graph is not None:
            check_matches(q, graph, where=str(path))
            self.against(q, graph)
        return q

    def against(self, q: Quantized, graph: nir.NIRGraph) -> None:
        """Each node and shape of ``q`` is the graph's own (layer form)."""
        flat, inputs, neurons, projections, outputs = layer_form(graph)
        expected = {
            "inputs": inputs,
            "neurons": {n: tuple(np.shape(flat[n].v_threshold)) for n in neurons},
            "projections": {
                name: (kind, src, dst, tuple(np.shape(flat[name].weight)) if kind == "conv" else ())
                for name, kind, src, dst in projections
            },
            "outputs": outputs,
        }
        found = {
            "inputs": q.inputs,
            "neurons": {n.name: n.shape for n in q.neurons.values()},
            "projections": {
                p.name: (p.kind, p.source, p.target, p.weight_mant.shape) for p in q.projections.values()
            },
            "outputs": q.outputs,
        }
        for key, want in expected.items():
            have = found[key]
            for node in sorted(set(want) | set(have)):
                if want.get(node) != have.get(node):
                    raise ConfigError(
                        f"{self.path}: {key}.{node} is {shown(have.get(node))}; the device graph "
                        f"has {shown(want.get(node))}; run `sbn quantize` again on this export"
                    )


def check_matches(q: Quantized, graph: nir.NIRGraph, where: str = "quantisation") -> None:
    """ConfigError unless ``q`` was made from this very graph."""
    if q.graph_sha256 != graph_digest(graph):
        raise ConfigError(
            f"{where} was made from another graph (digest {q.graph_sha256[:12]}...); "
            "run `sbn quantize` again on this export"
        )
