"""Lava processes for a ``Plan``: one ``SegmentProcess`` per segment, wired by Lava ports.

Every segment process has one ``InPort`` per value it receives (``in0``, ``in1``, ... in the
order of ``Segment.hops``), one ``OutPort`` per node whose value leaves it (``out0``, ...),
one ``Var`` per Output node it holds (``rec0``, ...: the Output's value over the run's
Lava steps, read back after the run), and ``spikes``: the spikes each of its spiking nodes
emitted over the run (firing rates measured in Lava, not taken from the executor). Its process model (tag ``"sbn_fast"``) is made per
segment, because Lava matches model attributes to port names; ``run_cfg`` hands the models
to Lava through ``exception_proc_model_map`` (keyed by process instance).

Per Lava step s the model: sends what it computed at step s - 1 (one step per hop); receives
every port, delaying each by its hop's alignment delay in a ring buffer; and, when
``t = s - start`` lies in [0, T), computes reference step t of its nodes in order, from rest at
t = 0. Samples run side by side as the batch axis of every port, each from rest.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import nir
import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from sbn.graph import node_types
from sbn.graph.schedule import sum_inputs, zeros_input
from sbn.targets.lava import ops
from sbn.targets.lava.fast_models import FAST_MODELS, FAST_TAG
from sbn.targets.lava.lava_order import warm_up
from sbn.targets.lava.plan import Plan, Segment


def spiking_nodes(plan: Plan, segment: Segment) -> list[str]:
    return [n for n in segment.nodes if isinstance(plan.nodes[n], node_types.SPIKING)]


class SegmentProcess(AbstractProcess):
    """A group of NIR nodes run by one Lava process (see module docstring)."""

    def __init__(
        self,
        *,
        plan: Plan,
        segment: Segment,
        time_steps: int,
        batch: int,
        frames: dict[str, np.ndarray],
        run_steps: int,
    ) -> None:
        super().__init__(
            name=f"sbn:{segment.name}",
            plan=plan,
            segment=segment,
            time_steps=time_steps,
            batch=batch,
            frames=frames,
        )
        self.segment = segment
        shapes = plan.shapes
        for i, hop in enumerate(segment.hops):
            setattr(self, f"in{i}", InPort(shape=(batch, *shapes[hop.source])))
        for j, node in enumerate(segment.sends):
            setattr(self, f"out{j}", OutPort(shape=(batch, *shapes[node])))
        self.recorded = [n for n in segment.nodes if isinstance(plan.nodes[n], nir.Output)]
        for k, node in enumerate(self.recorded):
            shape = (run_steps, batch, *shapes[node])
            setattr(self, f"rec{k}", Var(shape=shape, init=np.zeros(shape)))
        self.spiking = spiking_nodes(plan, segment)
        self.spikes = Var(shape=(max(len(self.spiking), 1),), init=np.zeros(max(len(self.spiking), 1)))

    def port_counts(self) -> tuple[int, int, int]:
        return len(self.segment.hops), len(self.segment.sends), len(self.recorded)


class SegmentModel(PyLoihiProcessModel):
    """Steps the nodes of one segment; ports and record Vars are added per segment."""

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        plan: Plan = proc_params["plan"]
        seg: Segment = proc_params["segment"]
        self.T = int(proc_params["time_steps"])
        self.batch = int(proc_params["batch"])
        self.frames = proc_params["frames"]
        self.first_step = seg.start  # not "start": that is the model's own method
        self.nodes = list(seg.nodes)
        self.ops = {n: ops.build_op(n, plan.nodes[n], plan.dt) for n in self.nodes}
        self.preds = {n: plan.preds[n] for n in self.nodes}
        self.back = {n: plan.back_preds[n] for n in self.nodes}
        self.hop_sources = [h.source for h in seg.hops]
        self.rings = [
            collections.deque([np.zeros((self.batch, *plan.shapes[h.source]))] * h.delay, maxlen=h.delay + 1)
            for h in seg.hops
        ]
        self.sends = list(seg.sends)
        self.send_buf = [np.zeros((self.batch, *plan.shapes[n])) for n in self.sends]
        self.recorded = [n for n in self.nodes if isinstance(plan.nodes[n], nir.Output)]
        self.node = {n: plan.nodes[n] for n in self.nodes}
        self.spiking = spiking_nodes(plan, seg)
        self.state: dict = {}
        self.previous: dict[str, np.ndarray] = {}

    def run_spk(self) -> None:
        s = self.time_step - 1
        for j, buf in enumerate(self.send_buf):
            getattr(self, f"out{j}").send(buf)
        received = {}
        for i, (src, ring) in enumerate(zip(self.hop_sources, self.rings)):
            ring.append(getattr(self, f"in{i}").recv())
            received[src] = ring[0]  # the value of ``delay`` steps ago
        t = s - self.first_step
        if not 0 <= t < self.T:
            self.send_buf = [np.zeros_like(b) for b in self.send_buf]
            return
        if t == 0:  # every sample starts at rest
            self.state = {n: self.ops[n].rest(self.batch) for n in self.nodes}
            self.previous = {}
        current: dict[str, np.ndarray] = {}
        for n in self.nodes:
            if n in self.frames:
                x = self.frames[n][t]
            else:
                x = self._gather(n, current, received)
            y, self.state[n] = self.ops[n].step(x, self.state[n])
            current[n] = y
        for k, n in enumerate(self.recorded):
            rec = getattr(self, f"rec{k}")
            rec[s] = current[n]
        for i, n in enumerate(self.spiking):
            self.spikes[i] += current[n].sum()
        self.previous = current
        self.send_buf = [current[n] for n in self.sends]

    def _gather(self, n: str, current: dict, received: dict) -> np.ndarray:
        """What node ``n`` receives, by the shared schedule's rule (``sum_inputs``)."""
        late = [p for p in self.back[n] if p in self.previous]  # none at t = 0
        parts = [current[p] if p in current else received[p] for p in self.preds[n]]
        parts += [self.previous[p] for p in late]
        x = sum_inputs(n, parts, self.preds[n] + late)
        return zeros_input(n, self.node[n], self.batch) if x is None else x


def _model_for(process: SegmentProcess) -> type:
    n_in, n_out, n_rec = process.port_counts()
    attrs = {f"in{i}": LavaPyType(PyInPort.VEC_DENSE, float) for i in range(n_in)}
    attrs.update({f"out{j}": LavaPyType(PyOutPort.VEC_DENSE, float) for j in range(n_out)})
    attrs.update({f"rec{k}": LavaPyType(np.ndarray, float) for k in range(n_rec)})
    attrs["spikes"] = LavaPyType(np.ndarray, float)
    cls = type(f"PySegmentModel_{n_in}_{n_out}_{n_rec}", (SegmentModel,), attrs)
    return tag(FAST_TAG)(requires(CPU)(implements(proc=SegmentProcess, protocol=LoihiProtocol)(cls)))


class LavaNetwork:
    """The Lava processes of one run: segment processes, wired, with their models."""

    def __init__(self, plan: Plan, frames: dict[str, np.ndarray], time_steps: int, run_steps: int) -> None:
        batch = int(next(iter(frames.values())).shape[1]) if frames else 1
        self.plan = plan
        self.run_steps = run_steps
        self.processes: dict[str, SegmentProcess] = {}
        for seg in plan.segments:
            own = {n: frames[n] for n in seg.nodes if n in frames}
            self.processes[seg.name] = SegmentProcess(
                plan=plan, segment=seg, time_steps=time_steps, batch=batch, frames=own, run_steps=run_steps
            )
        for seg in plan.segments:
            dst = self.processes[seg.name]
            for i, hop in enumerate(seg.hops):
                src = self.processes[hop.source_segment]
                j = plan.segment(hop.source_segment).sends.index(hop.source)
                getattr(src, f"out{j}").connect(getattr(dst, f"in{i}"))

    def run_cfg(self) -> Loihi2SimCfg:
        warm_up()  # compile the convolution kernel here, before Lava forks the processes
        models = {p: _model_for(p) for p in self.processes.values()}
        return Loihi2SimCfg(select_tag=FAST_TAG, exception_proc_model_map={**FAST_MODELS, **models})

    @property
    def anchor(self) -> SegmentProcess:
        return next(iter(self.processes.values()))

    def read_record(self) -> Record:
        """What the run recorded, read from the processes' Vars (call before the runtime stops)."""
        outputs, spikes = {}, {}
        for proc in self.processes.values():
            for k, node in enumerate(proc.recorded):
                outputs[node] = np.asarray(getattr(proc, f"rec{k}").get())
            if proc.spiking:
                spikes.update(zip(proc.spiking, np.asarray(proc.spikes.get())[: len(proc.spiking)].tolist()))
        return Record(outputs, spikes)


@dataclass
class Record:
    #: Output node -> its value over every Lava step of the run, [steps, B, ...]
    outputs: dict[str, np.ndarray]
    #: spiking node -> spikes it emitted over the run's T steps and samples
    spikes: dict[str, float]
