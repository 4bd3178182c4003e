"""A quantised device graph as a network of Lava's own fixed-point processes.

One Lava process per placed neuron group (a NIR LIF/IF node becomes a ``LIFReset``), one per
projection into it (a NIR ``Conv2d`` becomes a ``Conv``; a residual identity edge becomes a
``DelaySparse`` with an identity matrix), a ``lava.proc.io.source.RingBuffer`` per Input
and a ``lava.proc.io.sink.RingBuffer`` per Output. This is the granularity of ``sbn map``'s
placement: a group's tiles sit on the cores the placement gives it, and the synapses of a
projection live on the cores of the group that receives them (Loihi stores a neuron's
fan-in with it), so every process has a list of cores (``FixedNetwork.cores``).

Timing. Lava's ``Conv`` and ``DelaySparse`` send at step s what they accumulated at s - 1;
a ``LIFReset`` sends its spikes in the step it receives its input. With the Input's frame
for reference step 0 sent at Lava step 1, a neuron group computes reference step 0 at its
*start* ``c(n) = max(c(source) + 1)`` over its projections (Inputs start at 1). A projection
from a source that starts earlier than ``c(n) - 1`` (a residual shortcut) is delayed by
``d = c(n) - 1 - c(source)`` steps with the chip's synaptic delays: an identity edge through
``DelaySparse(delays=d)``; a convolution through a relay (``DelaySparse(delays=d - 1)`` into
a ``LIF`` that re-emits every spike, vth 0) and then the ``Conv``. Delays hold up to 63
steps (6 bits). A relay carries spikes, not graded values (``DelaySparse`` sends 0/1 where
its messages have no bits), so a convolution of a graded Input that must wait gets the
Input's frames from a source of its own, sent ``d`` steps later (the host sends them).

Samples. ``Conv`` takes one (X, Y, C) frame, so samples run one after another: sample b's
frame for step t is sent at Lava step ``1 + b T + t`` and a group computes it at
``c(n) + b T + t``. Each group is a ``LIFReset`` with ``reset_interval = T`` and
``reset_offset = c(n) mod T``: its u and v return to 0 at the first step of every sample,
so every sample starts from rest, and whatever a group did before its first sample reached
it (a bias charging it) is cleared before it counts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from lava.proc.conv.process import Conv
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIF, LIFReset
from lava.proc.sparse.process import DelaySparse
from scipy import sparse

from sbn.errors import MappingError, SimulationError
from sbn.targets.lava.loihi.models import RECORD_KEY, SpikeRecorder
from sbn.targets.lava.loihi.relays import relay_name
from sbn.targets.quantize import Quantized

#: Loihi 2's synaptic delays are 6-bit (used where a quantisation file states no max_delay)
MAX_DELAY = 63


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """NIR's (C, H, W) -> Lava's (X, Y, C) = (H, W, C); other ranks unchanged."""
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else tuple(shape)


def to_lava(x: np.ndarray) -> np.ndarray:
    """[..., C, H, W] -> [..., H, W, C] (the last three axes)."""
    return np.moveaxis(x, -3, -1) if x.ndim >= 3 else x


def from_lava(x: np.ndarray, nir_shape: tuple[int, ...]) -> np.ndarray:
    return np.moveaxis(x, -1, -3) if len(nir_shape) == 3 else x


def quantize_images(frames: np.ndarray, scale: int) -> np.ndarray:
    """Graded input messages: ``round(x * scale)``; values outside [0, 1] are refused."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.size and (frames.min() < 0 or frames.max() > 1):
        raise SimulationError(
            f"inputs must lie in [0, 1] for the fixed-point path (pixels as "
            f"{int(math.log2(scale + 1))}-bit integers); got {frames.min():g}..{frames.max():g}"
        )
    return np.rint(frames * scale).astype(np.int32)


@dataclass
class Timing:
    start: dict[str, int]  # node (Input or neuron) -> Lava step of its reference step 0
    delay: dict[str, int]  # projection -> synaptic delay in steps

    @property
    def latency(self) -> int:
        return max(self.start.values())


def timing(q: Quantized) -> Timing:
    start = {name: 1 for name in q.inputs}
    for n in q.neurons:  # in topological order (quantize walks the graph so)
        sources = [p.source for p in q.into(n)]
        if not sources:
            raise MappingError(f"node {n}: a neuron group with no input cannot be scheduled")
        start[n] = max(start[s] + 1 for s in sources)
    delay = {p.name: start[p.target] - 1 - start[p.source] for p in q.projections.values()}
    longest = int(q.format.get("max_delay", MAX_DELAY))
    for name, d in delay.items():
        if d > longest:
            raise MappingError(
                f"projection {name}: needs a delay of {d} steps; {q.target}'s synaptic "
                f"delays hold 0..{longest}"
            )
    return Timing(start, delay)


def _conv_kwargs(node, weight: np.ndarray) -> dict:
    def pair(v):
        arr = np.atleast_1d(np.asarray(v))
        if arr.dtype.kind not in "iu" and not np.all(arr == np.rint(arr)):
            raise MappingError(f"convolution parameter {v!r} is not a whole number")
        arr = arr.astype(int)
        return (int(arr[0]), int(arr[-1]))

    if isinstance(node.padding, str) or np.asarray(node.padding).dtype.kind in "SUO":
        raise MappingError(f"padding {node.padding!r}: Lava's Conv takes symmetric integer padding")
    # cross-correlation with w is Lava's convolution with w flipped: (O, C, kh, kw) -> (O, kh, kw, C)
    return {
        "weight": np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(0, 2, 3, 1)).astype(np.int32),
        "padding": pair(node.padding),
        "stride": pair(node.stride),
        "dilation": pair(node.dilation),
        "groups": int(np.asarray(node.groups)),
    }


@dataclass
class FixedNetwork:
    """The Lava processes of one run, and where to read its results."""

    q: Quantized
    timing: Timing
    time_steps: int
    samples: int
    processes: dict[str, object] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # process name -> Lava class name
    sinks: dict[str, Sink] = field(default_factory=dict)  # neuron -> sink (Outputs, probes)
    recorders: dict[str, SpikeRecorder] = field(default_factory=dict)
    relays: list[str] = field(default_factory=list)

    @property
    def run_steps(self) -> int:
        """Lava steps until the last group has computed the last sample's last step."""
        return self.timing.latency + self.samples * self.time_steps - 1

    @property
    def anchor(self):
        return next(iter(self.processes.values()))


def build(
    q: Quantized,
    nodes: dict,
    frames: dict[str, np.ndarray],
    time_steps: int,
    *,
    record_dir: str | None = None,
    probe: bool = False,
) -> FixedNetwork:
    """Lava processes for ``q`` fed ``frames`` ({Input: [T, B, *shape] integers}).

    ``record_dir``: neuron groups record their spikes there (the toolchain's models only);
    ``probe``: a sink on every neuron group instead (works under Lava's stock models too).
    """
    tm = timing(q)
    samples = next(iter(frames.values())).shape[1]
    net = FixedNetwork(q, tm, time_steps, samples)
    steps = net.run_steps
    out_of: dict[str, object] = {}  # node -> the OutPort carrying its values

    def add(name: str, proc, kind: str):
        net.processes[name] = proc
        net.kinds[name] = kind
        return proc

    def source(name: str, shape, late: int) -> Source:
        """The Input's frames, the first sent at Lava step ``1 + late``."""
        data = np.zeros((*lava_shape(shape), steps), dtype=np.int32)
        f = to_lava(frames[name])  # [T, B, X, Y, C]
        seq = f.transpose(1, 0, *range(2, f.ndim)).reshape(-1, *f.shape[2:])  # sample-major
        data[..., late : late + seq.shape[0]] = np.moveaxis(seq, 0, -1)
        return Source(data=data)

    for name, shape in q.inputs.items():
        out_of[name] = add(name, source(name, shape, 0), "RingBuffer").s_out

    for n, nq in q.neurons.items():
        shape = lava_shape(nq.shape)
        lif = LIFReset(
            shape=shape,
            du=nq.du,
            dv=nq.dv,
            vth=nq.vth,
            bias_mant=to_lava(np.broadcast_to(nq.bias_mant, nq.shape)).astype(np.int32),
            bias_exp=to_lava(np.broadcast_to(nq.bias_exp, nq.shape)).astype(np.int32),
            reset_interval=time_steps,
            reset_offset=tm.start[n] % time_steps,
            name=n,
        )
        add(n, lif, "LIFReset")
        if record_dir is not None:
            rec = SpikeRecorder(
                os.path.join(record_dir, f"{len(net.recorders)}.u8"), shape, tm.start[n], samples * time_steps
            )
            rec.create()
            lif.proc_params[RECORD_KEY] = rec
            net.recorders[n] = rec
        for p in q.into(n):
            d = tm.delay[p.name]
            src = out_of[p.source]
            if p.kind == "identity":
                size = math.prod(shape)
                syn = DelaySparse(
                    weights=_identity(size, int(p.weight_mant)),
                    delays=_identity(size, d, int),
                    max_delay=d,
                    weight_exp=int(p.weight_exp),
                    name=p.name,
                )
                add(p.name, syn, "DelaySparse")
                src.flatten().connect(syn.s_in)
                syn.a_out.reshape(shape).connect(lif.a_in)
                continue
            if d > 0 and p.graded:  # pixels cannot pass a relay: the frames come d steps late
                late = f"{p.source}+{d}:{p.name}"
                src = add(late, source(p.source, q.inputs[p.source], d), "RingBuffer").s_out
            elif d > 0:  # spikes wait in a relay: DelaySparse(d - 1) into a LIF that re-emits them
                src = _relay(net, add, p.name, src, q.neurons[p.source].shape, d - 1)
            kw = _conv_kwargs(nodes[p.name], p.weight)
            conv = Conv(
                input_shape=lava_shape(_source_shape(q, p.source)),
                weight_exp=0,
                num_weight_bits=8,
                num_message_bits=8 if p.graded else 0,
                name=p.name,
                **kw,
            )
            if tuple(conv.a_out.shape) != shape:
                raise MappingError(
                    f"node {p.name}: Lava's Conv gives {tuple(conv.a_out.shape)}, the "
                    f"neuron group {n} holds {shape}"
                )
            add(p.name, conv, "Conv")
            src.connect(conv.s_in)
            conv.a_out.connect(lif.a_in)
        out_of[n] = lif.s_out
    watched = set(q.outputs.values()) | (set(q.neurons) if probe else set())
    for n in sorted(watched):
        sink = Sink(shape=lava_shape(q.neurons[n].shape), buffer=steps)
        out_of[n].connect(sink.a_in)
        add(f"sink:{n}", sink, "RingBuffer")
        net.sinks[n] = sink
    return net


def _identity(size: int, value: int, dtype=np.int32) -> sparse.csr_matrix:
    """``value`` on the diagonal, as a CSR matrix. Delays must be a matrix too (of Python's int
    type, as Lava checks): an int ``delays`` makes Lava's builder assign it to every entry of
    an N x N sparse matrix (N**2 entries)."""
    idx = np.arange(size)
    return sparse.csr_matrix((np.full(size, value, dtype=dtype), (idx, idx)), shape=(size, size))


def _source_shape(q: Quantized, name: str) -> tuple[int, ...]:
    return q.neurons[name].shape if name in q.neurons else q.inputs[name]


def _relay(net: FixedNetwork, add, projection: str, src, nir_shape, delay: int):
    shape = lava_shape(tuple(nir_shape))
    size = math.prod(shape)
    name = relay_name(projection)
    syn = add(
        f"{name}.delay",
        DelaySparse(
            weights=_identity(size, 1),
            delays=_identity(size, delay, int),
            max_delay=delay,
            name=f"{name}.delay",
        ),
        "DelaySparse",
    )
    # u = a_in << 6 = 64 for a spike, 0 otherwise; v has no memory (dv 4095); vth 0: v > 0 fires
    lif = add(name, LIF(shape=shape, du=4095, dv=4095, vth=0, name=name), "LIF")
    src.flatten().connect(syn.s_in)
    syn.a_out.reshape(shape).connect(lif.a_in)
    net.relays.append(name)
    return lif.s_out
