"""The toolchain's process models for Lava's own ``Conv`` and ``Dense`` processes.

Selected with the tag ``"sbn_fast"``: ``fast_run_cfg()`` builds a ``Loihi2SimCfg`` whose
``exception_proc_model_map`` picks these models for ``Conv`` and ``Dense`` (Lava looks for
process models only beside the process's own module, so a tag alone cannot reach models
defined here). They keep the stock floating-point models' interface and timing exactly:
the ``a_out`` sent at step t is the synaptic input accumulated at step t - 1 (one step per
hop), binary inputs unless ``num_message_bits > 0``, Lava's ``(X, Y, C)`` layout and its
flipped kernel (Lava's ``Conv`` convolves, it does not cross-correlate).

Numerics: float64 throughout (the stock models are float64 too). The result equals the
stock model's bit for bit whenever every partial sum is exact in float64 (e.g. spikes times
weights with a few significant bits, as the tests use); otherwise the summation order differs
(one GEMM versus scipy's per-channel-pair loop) and results differ in the last bits.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense

from sbn.targets.lava import kernels

FAST_TAG = "sbn_fast"


def lava_conv(s_in: np.ndarray, weight: np.ndarray, stride, padding, dilation, groups: int) -> np.ndarray:
    """Lava's ``Conv`` semantics, (X, Y, C_in) -> (X', Y', C_out), weight (C_out, kx, ky, C_in).

    Lava flips the kernel (true convolution); ``kernels.conv2d`` cross-correlates, so the
    kernel is flipped back here and the axes moved to (B, C, X, Y).
    """
    x = np.ascontiguousarray(s_in.transpose(2, 0, 1))[None]
    w = np.ascontiguousarray(weight[:, ::-1, ::-1, :].transpose(0, 3, 1, 2))
    pad = kernels.pair(padding)
    y = kernels.conv2d(x, w, None, kernels.pair(stride), pad, kernels.pair(dilation), int(groups))
    return y[0].transpose(1, 2, 0)


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag(FAST_TAG, "floating_pt")
class PyConvModelSbnFast(PyLoihiProcessModel):
    """Lava ``Conv`` as one im2col GEMM per time step (float64)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_buf: np.ndarray = LavaPyType(np.ndarray, float)
    weight: np.ndarray = LavaPyType(np.ndarray, float)
    kernel_size: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    stride: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    padding: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    dilation: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    groups: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    num_message_bits: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=5)
    weight_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    num_weight_bits: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=5)

    def run_spk(self) -> None:
        self.a_out.send(self.a_buf)  # accumulated last step: one step per hop, as Lava's
        s_in = self.s_in.recv()
        if self.num_message_bits.item() == 0:
            s_in = s_in.astype(bool)
        self.a_buf = lava_conv(s_in.astype(np.float64), self.weight, self.stride,
                               self.padding, self.dilation, int(self.groups[0]))


@implements(proc=Dense, protocol=LoihiProtocol)
@requires(CPU)
@tag(FAST_TAG, "floating_pt")
class PyDenseModelSbnFast(PyLoihiProcessModel):
    """Lava ``Dense`` as one BLAS matrix-vector product per time step (float64)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, bool, precision=1)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_buff: np.ndarray = LavaPyType(np.ndarray, float)
    weights: np.ndarray = LavaPyType(np.ndarray, float)
    num_message_bits: np.ndarray = LavaPyType(np.ndarray, int, precision=5)

    def run_spk(self) -> None:
        self.a_out.send(self.a_buff)
        s_in = self.s_in.recv()
        if self.num_message_bits.item() == 0:
            s_in = s_in.astype(bool)
        self.a_buff = self.weights @ s_in.astype(np.float64)


#: process class -> the toolchain's model for it
FAST_MODELS = {Conv: PyConvModelSbnFast, Dense: PyDenseModelSbnFast}


def fast_run_cfg(**kwargs) -> Loihi2SimCfg:
    """A ``Loihi2SimCfg`` (floating point) that runs ``Conv`` and ``Dense`` on these models."""
    extra = dict(kwargs.pop("exception_proc_model_map", None) or {})
    return Loihi2SimCfg(select_tag="floating_pt", exception_proc_model_map={**FAST_MODELS, **extra},
                        **kwargs)
