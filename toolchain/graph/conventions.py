"""How the toolchain reads and writes time in NIR graphs: one place for the keys and rules.

NIR describes neurons as continuous-time equations and leaves the time step to whoever runs
them. The toolchain writes the step into every graph it exports and reads it back here.

Graph metadata keys written by ``sbn.graph.export`` (flat keys, plain scalars and strings,
so that ``nir.write`` / ``nir.read`` keep them unchanged):

    sbn.schema          "sbn.nir/1": the conventions below apply
    sbn.dt              the time step, in NIR time units (1.0: one model step per unit)
    sbn.time_steps      T, the number of steps one sample is presented for
    sbn.integration     "forward-euler": state[t] = state[t-1] + dt * f(state[t-1], x[t])
    sbn.threshold       how v_threshold was chosen (see ``lif_threshold``)
    sbn.reset           "hard: v -> v_reset (0) at the step the neuron spikes"
    sbn.input_encoding  "direct: the image is fed unchanged at each of the T steps"
    sbn.readout         what a consumer does with the Output (average the logits over T)

Node metadata: ``sbn.module`` (the PyTorch module the node came from) and, where a tensor
is held in polyphase layout, ``sbn.phases`` (see ``sbn.graph.phases``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

SCHEMA = "sbn.nir/1"

KEY_SCHEMA = "sbn.schema"
KEY_DT = "sbn.dt"
KEY_TIME_STEPS = "sbn.time_steps"
KEY_INTEGRATION = "sbn.integration"
KEY_THRESHOLD = "sbn.threshold"
KEY_RESET = "sbn.reset"
KEY_INPUT_ENCODING = "sbn.input_encoding"
KEY_READOUT = "sbn.readout"
KEY_MODULE = "sbn.module"
KEY_PHASES = "sbn.phases"

#: The step the toolchain exports with: one model time step is one unit of NIR time.
#: With it the LIF mapping below is exact in binary floating point for k = 0.5.
EXPORT_DT = 1.0

#: The step the executor falls back to for graphs that state none (third-party files):
#: the NIR paper's convention (norse's LIF example ran at dt = 1e-4 s).
DEFAULT_DT = 1e-4

INTEGRATION = "forward-euler"
THRESHOLD_RULE = (
    "spike when v > v_threshold (NIR); v_threshold = nextafter(V_th, -inf) in float64, "
    "so that this equals the model's v >= V_th"
)
RESET_RULE = "hard: v -> v_reset = 0 in the step the neuron spikes"
INPUT_ENCODING = "direct: the image is fed unchanged at each of the T steps"
READOUT = "mean over T of the per-step Output (the head's average over time is not a NIR node)"


def graph_dt(metadata: Mapping[str, Any] | None) -> float | None:
    """The time step a graph states in its metadata, or None."""
    if not metadata or KEY_DT not in metadata:
        return None
    return float(np.asarray(metadata[KEY_DT]))


def lif_parameters(decay: float, dt: float = EXPORT_DT) -> tuple[float, float]:
    """(tau, r) of the NIR LIF whose forward-Euler step at ``dt`` is ``u = k*u + x``.

    Forward Euler of tau dv/dt = (v_leak - v) + r I with v_leak = 0 gives
    v[t] = (1 - dt/tau) v[t-1] + (dt/tau) r x[t]; k = 1 - dt/tau and (dt/tau) r = 1 give
    tau = dt / (1 - k) and r = tau / dt. k = 1 has no finite tau: that neuron is an IF.
    """
    if not 0.0 < decay < 1.0:
        raise ValueError(f"a leaky neuron needs 0 < k < 1, got {decay} (k = 1 is an IF)")
    tau = dt / (1.0 - decay)
    return tau, tau / dt


def if_resistance(dt: float = EXPORT_DT) -> float:
    """r of the NIR IF whose forward-Euler step at ``dt`` is ``u = u + x``."""
    return 1.0 / dt


def lif_threshold(v_th: float) -> float:
    """NIR's threshold for the model's V_th: the model spikes on u >= V_th, NIR on v > v_thr.

    The largest double below V_th makes the two identical for float64 potentials.
    """
    return float(np.nextafter(np.float64(v_th), -np.inf))
