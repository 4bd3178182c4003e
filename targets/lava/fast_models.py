"""The toolchain's process models for Lava's own ``Conv`` and ``Dense`` processes.

Selected with the tag ``"sbn_fast"``: ``fast_run_cfg()`` builds a ``Loihi2SimCfg`` whose
``exception_proc_model_map`` picks these models for ``Conv`` and ``Dense`` (Lava looks for
process models only beside the process's own module, so a tag alone cannot reach models
defined here). They keep the stock floating-point models' interface and timing exactly:
the ``a_out`` sent at step t is the synaptic input accumulated at step t - 1 (one step per
hop), binary inputs unless ``num_message_bits > 0``, Lava's ``(X, Y, C)`` layout and its
flipped kernel (Lava's ``Conv`` convolves, it does not cross-correlate).

Numerics: float64, bit for bit the stock models' results for any finite weights. ``Conv``
runs ``lava_order.LavaOrderConv``, which adds the same products in the same order as Lava's
per-channel-pair scipy loop but only visits non-zero inputs (spikes), in compiled code.
``Dense`` is Lava's own float model (a column gather and a pairwise sum for spikes, a BLAS
``dot`` for graded input): it is already vectorised, and any other order would change the
last bits.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.conv.models import AbstractPyConvModel
from lava.proc.conv.process import Conv
from lava.proc.dense.models import AbstractPyDenseModelFloat
from lava.proc.dense.process import Dense

from sbn.targets.lava.lava_order import LavaOrderConv, lava_order_conv, warm_up

FAST_TAG = "sbn_fast"

#: Lava's ``Conv`` semantics, (X, Y, C_in) -> (X', Y', C_out), weight (C_out, kx, ky, C_in/groups)
lava_conv = lava_order_conv


class SpikeDrivenConvModel(AbstractPyConvModel):
    """Lava ``Conv``'s interface and timing: send last step's ``a_buf``, receive, accumulate
    (``accumulate(s_in, spikes) -> a_buf``, which each subclass defines). The geometry Vars are declared by Lava's
    ``AbstractPyConvModel``, the data types by each subclass."""

    def __init__(self, proc_params=None):
        super().__init__(proc_params)
        self._conv = None  # built on the first step: the weight is static (no learning)

    def run_spk(self) -> None:
        self.a_out.send(self.a_buf)  # accumulated last step: one step per hop, as Lava's
        s_in = self.s_in.recv()
        spikes = self.num_message_bits.item() == 0
        if spikes:
            s_in = s_in.astype(bool)
        self.a_buf = self.accumulate(s_in, spikes)  # each model's own arithmetic


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag(FAST_TAG, "floating_pt")
class PyConvModelSbnFast(SpikeDrivenConvModel):
    """Lava ``Conv`` in Lava's own summation order, driven by the non-zero inputs (float64)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_buf: np.ndarray = LavaPyType(np.ndarray, float)
    weight: np.ndarray = LavaPyType(np.ndarray, float)

    def accumulate(self, s_in: np.ndarray, spikes: bool) -> np.ndarray:
        if self._conv is None:
            self._conv = LavaOrderConv(
                self.weight, self.stride, self.padding, self.dilation, int(self.groups[0])
            )
        return self._conv(s_in, binary=spikes)


@implements(proc=Dense, protocol=LoihiProtocol)
@requires(CPU)
@tag(FAST_TAG, "floating_pt")
class PyDenseModelSbnFast(AbstractPyDenseModelFloat):
    """Lava's own float ``Dense`` model under the ``sbn_fast`` tag: it is one vectorised numpy
    expression already, and any faster one would add in another order (other last bits)."""


#: process class -> the toolchain's model for it
FAST_MODELS = {Conv: PyConvModelSbnFast, Dense: PyDenseModelSbnFast}


def fast_run_cfg(**kwargs) -> Loihi2SimCfg:
    """A ``Loihi2SimCfg`` (floating point) that runs ``Conv`` and ``Dense`` on these models."""
    warm_up()  # compile before Lava forks, so that each process inherits the kernel
    extra = dict(kwargs.pop("exception_proc_model_map", None) or {})
    return Loihi2SimCfg(select_tag="floating_pt", exception_proc_model_map={**FAST_MODELS, **extra}, **kwargs)
