"""NIR LIF/IF -> Lava's own LIF process: exact where expressible, refused by name otherwise."""

from __future__ import annotations

import nir
import numpy as np
import pytest
from lava.magma.core.run_conditions import RunSteps
from lava.proc.dense.process import Dense
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIF

from sbn.errors import MappingError
from sbn.graph import execute
from sbn.targets.lava import fast_run_cfg
from sbn.targets.lava.lava_lif import lava_lif_parameters


def test_parameters_of_the_toolchains_lif_with_a_leak():
    """k = 0.5 -> tau = 2, r = 2 at dt = 1; threshold nextafter(V_th, -inf) kept as is."""
    thr = np.nextafter(1.0, -np.inf)
    lif = nir.LIF(
        tau=np.full(3, 2.0), r=np.full(3, 2.0), v_leak=np.full(3, 0.125), v_threshold=np.full(3, thr)
    )
    p = lava_lif_parameters("lif", lif, dt=1.0)
    assert (p["shape"], p["du"], p["dv"], p["vth"]) == ((3,), 1.0, 0.5, thr)
    np.testing.assert_array_equal(p["bias_mant"], np.full(3, 0.0625))  # (dt/tau) v_leak
    # the same neuron written by norse at dt = 1e-4: tau = 2e-4, r = 2
    norse = nir.LIF(tau=np.full(3, 2e-4), r=np.full(3, 2.0), v_leak=np.zeros(3), v_threshold=np.ones(3))
    assert lava_lif_parameters("lif", norse, dt=1e-4)["dv"] == 0.5


def test_lif_without_leak_equals_executor_shifted_by_one_hop():
    rng = np.random.default_rng(1)
    n = 4
    weight = rng.integers(-8, 9, (n, n)) / 4.0
    lif = nir.LIF(tau=np.full(n, 4.0), r=np.full(n, 4.0), v_leak=np.zeros(n), v_threshold=np.full(n, 0.75))
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([n])}),
            "fc": nir.Linear(weight=weight),
            "lif": lif,
            "out": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")],
    )
    steps = 10
    x = (rng.random((steps, 1, n)) < 0.5).astype(float)
    ref = execute(graph, x, dt=1.0).outputs["out"][:, 0]
    assert ref.any()
    src = Source(data=np.concatenate([x[:, 0].T, np.zeros((n, 1))], axis=1))
    dense, neuron = Dense(weights=weight), LIF(**lava_lif_parameters("lif", lif, dt=1.0))
    sink = Sink(shape=(n,), buffer=steps + 1)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(neuron.a_in)
    neuron.s_out.connect(sink.a_in)
    try:
        sink.run(condition=RunSteps(num_steps=steps + 1), run_cfg=fast_run_cfg())
        got = sink.data.get().T.copy()
    finally:
        sink.stop()
    assert not got[0].any()
    np.testing.assert_array_equal(got[1:], ref)


@pytest.mark.parametrize(
    "node,match",
    [
        (
            nir.LIF(tau=np.full(2, 2.0), r=np.full(2, 1.0), v_leak=np.zeros(2), v_threshold=np.ones(2)),
            r"node n: input gain \(dt/tau\) r = \[0.5\] is not 1",
        ),
        (
            nir.LIF(
                tau=np.full(2, 2.0),
                r=np.full(2, 2.0),
                v_leak=np.zeros(2),
                v_threshold=np.ones(2),
                v_reset=np.full(2, -0.5),
            ),
            r"node n: v_reset = \[-0.5\]; Lava's LIF resets to 0",
        ),
        (nir.IF(r=np.ones(2), v_threshold=np.array([1.0, 2.0])), r"node n: v_threshold differs"),
        (
            nir.LIF(
                tau=np.array([2.0, 4.0]), r=np.array([2.0, 4.0]), v_leak=np.zeros(2), v_threshold=np.ones(2)
            ),
            r"node n: tau differs",
        ),
        (nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)), r"node n: LI has no exact Lava LIF form"),
    ],
)
def test_what_lavas_lif_cannot_express_is_refused(node, match):
    with pytest.raises(MappingError, match=match):
        lava_lif_parameters("n", node, dt=1.0)
