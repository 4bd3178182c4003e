"""Fast process models for Lava's own fixed-point processes (tag ``sbn_fast``).

Each model keeps the interface, timing and integer arithmetic of Lava 0.10's bit-accurate
model of the same process, and is selected with ``fast_fixed_run_cfg()``
(``Loihi2SimCfg(select_tag="fixed_pt")`` plus an ``exception_proc_model_map``):

- ``Conv``: ``PyConvModelFixed`` convolves with ``conv_scipy`` in float64 (Lava 0.10 sets
  ``TORCH_IS_AVAILABLE = False``), truncates to the weight's int32 type and wraps to 24 bits
  (``signed_clamp``). Here ``int_conv.IntConv`` forms the same integer sums, visiting only
  the non-zero inputs, then the same wrap. Integer sums do not depend on the order of
  addition, and conv_scipy's float64 sums of integers are exact below 2**53, so the two agree
  for any integer weights whose sums fit int32.
- ``LIFReset``: ``PyLifResetModelBitAcc`` itself (it is vectorised numpy already), plus a
  recorder: within the window the network gives it, each step's spikes are written into a
  shared memory-mapped array (``SpikeRecorder``), from which spike counts, firing rates and
  per-layer agreement are read after the run; and how many neurons' current ``u`` wrapped
  that step (the stock model wraps it silently: a large positive input becomes a large
  negative current). The arithmetic is the stock model's.
- ``DelaySparse``: ``PyDelaySparseModelBitAcc`` with its per-delay weight stack built once
  instead of every step (same integers).
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.conv.process import Conv
from lava.proc.conv.utils import signed_clamp
from lava.proc.lif.models import PyLifResetModelBitAcc
from lava.proc.lif.process import LIF, LIFReset
from lava.proc.sparse.models import PyDelaySparseModelBitAcc
from lava.proc.sparse.process import DelaySparse

from sbn.targets.lava.fast_models import FAST_TAG, SpikeDrivenConvModel
from sbn.targets.lava.loihi.int_conv import IntConv, warm_up

#: sums at or beyond this magnitude wrap in the 24-bit accumulator (``signed_clamp(bits=24)``)
ACC_HALF = 1 << 23
#: proc_params key of a LIF process's recording window (see ``SpikeRecorder``)
RECORD_KEY = "sbn_record"


class SpikeRecorder:
    """Where a neuron process writes its spikes: a ``uint8`` memory map of shape
    ``[samples * T, *shape]`` (Lava layout), written at Lava steps ``first .. first + len - 1``;
    beside it an ``int64`` map ``[samples * T]``: the neurons whose current wrapped each step."""

    def __init__(self, path: str, shape: tuple[int, ...], first: int, length: int) -> None:
        self.path, self.shape, self.first, self.length = path, tuple(shape), int(first), int(length)

    def create(self) -> np.memmap:
        self.open_wraps("w+")
        return np.memmap(self.path, dtype=np.uint8, mode="w+", shape=(self.length, *self.shape))

    def open(self, mode: str = "r+") -> np.memmap:
        return np.memmap(self.path, dtype=np.uint8, mode=mode, shape=(self.length, *self.shape))

    def open_wraps(self, mode: str = "r+") -> np.memmap:
        return np.memmap(self.path + ".wraps", dtype=np.int64, mode=mode, shape=(self.length,))


def wrap24(total: np.ndarray) -> np.ndarray:
    """As the stock model: integer sums wrapped to the 24-bit accumulator (``signed_clamp``),
    skipped when no sum leaves its range (the common case; the result is the same)."""
    if total.size and (total.min() < -ACC_HALF or total.max() >= ACC_HALF):
        return signed_clamp(total.astype(np.int64), bits=24).astype(np.int32)
    return total


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag(FAST_TAG, "fixed_pt")
class PyConvModelFixedSbnFast(SpikeDrivenConvModel):
    """Lava ``Conv`` in integers, spike-driven (see module docstring)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    a_buf: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    weight: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)

    def accumulate(self, s_in: np.ndarray, spikes: bool) -> np.ndarray:
        if self._conv is None:
            self._conv = IntConv(
                np.asarray(self.weight, dtype=np.int32),
                self.stride,
                self.padding,
                self.dilation,
                int(self.groups[0]),
            )
        return wrap24(self._conv(s_in))


@implements(proc=LIFReset, protocol=LoihiProtocol)
@requires(CPU)
@tag(FAST_TAG, "fixed_pt")
class PyLifResetModelSbnFast(PyLifResetModelBitAcc):
    """Lava's bit-accurate ``LIFReset`` model, recording its spikes (see ``SpikeRecorder``)."""

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._recorder: SpikeRecorder | None = proc_params.get(RECORD_KEY)
        self._record: np.memmap | None = None
        self._wraps: np.memmap | None = None

    def subthr_dynamics(self, activation_in: np.ndarray):
        rec = self._recorder
        i = -1 if rec is None else self.time_step - rec.first
        if rec is not None and 0 <= i < rec.length:
            # the current before the stock model wraps it, as AbstractPyLifModelFixed forms it
            current = np.left_shift(activation_in, self.act_shift).astype(np.int32)
            keep = self.decay_unity - self.du - self.ds_offset  # 0 at du 4095: u is this input
            if keep:
                decayed = np.int64(self.u) * keep
                decayed = np.sign(decayed) * np.right_shift(np.abs(decayed), self.decay_shift)
                current = (np.int32(decayed) + current).astype(np.int32)
            wrapped = np.count_nonzero((current > self.max_uv_val) | (current <= -self.max_uv_val))
            if wrapped:
                if self._wraps is None:
                    self._wraps = rec.open_wraps()
                self._wraps[i] = wrapped
        super().subthr_dynamics(activation_in)

    def spiking_activation(self):
        s = super().spiking_activation()
        rec = self._recorder
        if rec is not None:
            i = self.time_step - rec.first
            if 0 <= i < rec.length:
                if self._record is None:
                    self._record = rec.open()
                self._record[i] = s
        return s


@implements(proc=DelaySparse, protocol=LoihiProtocol)
@requires(CPU)
@tag(FAST_TAG, "fixed_pt")
class PyDelaySparseModelSbnFast(PyDelaySparseModelBitAcc):
    """Lava's bit-accurate ``DelaySparse`` with the per-delay weight stack built once."""

    _stack = None

    def calc_act(self, s_in) -> np.ndarray:
        if self._stack is None:
            self._stack = delay_stack(self.weights, self.delays, self.a_buff.shape[-1] - 1)
        return np.reshape(self._stack.dot(s_in), (self.a_buff.shape[-1], self.weights.shape[0])).T


def delay_stack(weights, delays, max_delay: int):
    """``AbstractPyDelaySparseModel.get_delay_wgts_mat`` built from the non-zero entries in one
    pass: rows ``k * n_out + i`` hold the weights of delay k (Lava assigns into a CSR matrix
    entry by entry, quadratic in the synapse count)."""
    from scipy.sparse import coo_matrix, csr_matrix

    w = coo_matrix(weights)
    d = np.asarray(csr_matrix(delays)[w.row, w.col]).ravel().astype(np.int64)
    n_out, n_in = w.shape
    return coo_matrix((w.data, (d * n_out + w.row, w.col)), shape=((max_delay + 1) * n_out, n_in)).tocsr()


#: process class -> the toolchain's fixed-point model for it
FAST_FIXED_MODELS = {
    Conv: PyConvModelFixedSbnFast,
    LIFReset: PyLifResetModelSbnFast,
    DelaySparse: PyDelaySparseModelSbnFast,
}


def fixed_run_cfg(fast: bool = True) -> Loihi2SimCfg:
    """Lava's bit-accurate models (``fast=False``) or the toolchain's (``fast=True``)."""
    if not fast:
        return Loihi2SimCfg(select_tag="fixed_pt")
    warm_up()  # compile the kernel before Lava forks its processes
    return Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=dict(FAST_FIXED_MODELS))


__all__ = [
    "FAST_FIXED_MODELS",
    "LIF",
    "PyConvModelFixedSbnFast",
    "PyDelaySparseModelSbnFast",
    "PyLifResetModelSbnFast",
    "RECORD_KEY",
    "SpikeRecorder",
    "fixed_run_cfg",
]
