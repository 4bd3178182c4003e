"""The reference executor on tiny graphs whose results are computed by hand or by torch."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sbn.errors import GraphError
from sbn.graph import execute


def chain(*nodes_, metadata=None, type_check=True, shape=None) -> nir.NIRGraph:
    """Input -> nodes... -> Output, named n0, n1, ..."""
    names = [f"n{i}" for i in range(len(nodes_))]
    first = nodes_[0].input_type["input"] if shape is None else shape
    nodes = {"input": nir.Input(input_type={"input": np.array(first)})}
    nodes.update(zip(names, nodes_))
    nodes["output"] = nir.Output(output_type={"output": nodes_[-1].output_type["output"]})
    seq = ["input", *names, "output"]
    return nir.NIRGraph(
        nodes=nodes, edges=list(zip(seq, seq[1:])), metadata=metadata or {}, type_check=type_check
    )


def run1(graph, seq, **kw):
    """Feed a 1-d sequence to a graph on one neuron; return the output sequence."""
    x = np.asarray(seq, dtype=float)[:, None, None]
    return execute(graph, x, **kw).outputs["output"][:, 0, 0]


def one(v) -> np.ndarray:
    return np.array([float(v)])


# ---- stateless nodes ---------------------------------------------------------------------
def test_affine_linear_scale_by_hand():
    w = np.array([[1.0, 2.0], [-1.0, 0.5]])
    g = chain(
        nir.Affine(weight=w, bias=np.array([0.5, -1.0])),
        nir.Linear(weight=np.array([[2.0, 1.0]])),
        nir.Scale(scale=np.array([3.0])),
    )
    x = np.array([[[1.0, 2.0]], [[0.0, -2.0]]])  # [T=2, B=1, 2]
    # step 0: W x + b = [5.5, -1]; linear: 2*5.5 - 1 = 10; scale: 30
    # step 1: [-3.5, -2]; linear: -9; scale: -27
    out = execute(g, x).outputs["output"]
    np.testing.assert_array_equal(out[:, 0, 0], [30.0, -27.0])


@pytest.mark.parametrize(
    "stride,padding,dilation,groups",
    [
        (1, 1, 1, 1),
        (2, 0, 1, 1),
        (2, 2, 2, 2),
        (1, "same", 1, 1),
        (3, 1, 1, 4),
    ],
)
def test_conv2d_matches_torch(stride, padding, dilation, groups):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(8, 8 // groups, 3, 3))
    b = rng.normal(size=8)
    conv = nir.Conv2d(
        input_shape=(9, 11),
        weight=w,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=b,
    )
    # (nir's Conv2d declares C / groups input channels: give the Input its true shape)
    g = chain(conv, shape=(8, 9, 11), type_check=False)
    x = rng.normal(size=(2, 3, 8, 9, 11))
    want = F.conv2d(
        torch.from_numpy(x).flatten(0, 1),
        torch.from_numpy(w),
        torch.from_numpy(b),
        stride,
        padding,
        dilation,
        groups,
    )
    got = execute(g, x).outputs["output"]
    np.testing.assert_allclose(got.reshape(want.shape), want.numpy(), rtol=1e-12, atol=1e-12)


def test_conv1d_matches_torch():
    rng = np.random.default_rng(2)
    w, b = rng.normal(size=(4, 3, 5)), rng.normal(size=4)
    g = chain(nir.Conv1d(input_shape=20, weight=w, stride=2, padding=2, dilation=1, groups=1, bias=b))
    x = rng.normal(size=(2, 2, 3, 20))
    want = F.conv1d(torch.from_numpy(x).flatten(0, 1), torch.from_numpy(w), torch.from_numpy(b), 2, 2)
    got = execute(g, x).outputs["output"]
    np.testing.assert_allclose(got.reshape(want.shape), want.numpy(), rtol=1e-12)


def test_pooling_and_flatten():
    x = np.arange(2 * 4 * 4, dtype=float).reshape(1, 1, 2, 4, 4)  # [T, B, C, H, W]
    k = np.array([2, 2])
    pools = {
        "sum": nir.SumPool2d(kernel_size=k, stride=k, padding=np.array([0, 0])),
        "avg": nir.AvgPool2d(kernel_size=k, stride=k, padding=np.array([0, 0])),
    }
    for kind, pool in pools.items():
        nodes = {
            "input": nir.Input(input_type=np.array([2, 4, 4])),
            "pool": pool,
            "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=0),
            "output": nir.Output(output_type=np.array([8])),
        }
        g = nir.NIRGraph(
            nodes=nodes, edges=[("input", "pool"), ("pool", "flat"), ("flat", "output")], type_check=False
        )
        got = execute(g, x).outputs["output"][0, 0]
        # channel 0 top-left window: 0 + 1 + 4 + 5 = 10
        sums = F.avg_pool2d(torch.from_numpy(x[0]), 2).numpy().ravel() * 4
        np.testing.assert_array_equal(got, sums if kind == "sum" else sums / 4)
        assert got[0] == (10.0 if kind == "sum" else 2.5)


def test_several_incoming_edges_are_summed():
    nodes = {
        "input": nir.Input(input_type=np.array([1])),
        "a": nir.Scale(scale=one(2.0)),
        "b": nir.Scale(scale=one(-5.0)),
        "sum": nir.Scale(scale=one(1.0)),
        "output": nir.Output(output_type=np.array([1])),
    }
    edges = [("input", "a"), ("input", "b"), ("a", "sum"), ("b", "sum"), ("input", "sum"), ("sum", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges)
    np.testing.assert_array_equal(run1(g, [1.0, 2.0]), [-2.0, -4.0])  # 2x - 5x + x


# ---- neurons -----------------------------------------------------------------------------
def test_lif_forward_euler_by_hand():
    # dt = 1, tau = 2, r = 2: v = 0.5 v + x; spike when v > 1, then v = 0
    lif = nir.LIF(tau=one(2), r=one(2), v_leak=one(0), v_threshold=one(1), v_reset=one(0))
    g = chain(lif, metadata={"sbn.dt": 1.0})
    res = execute(g, np.array([0.6, 0.6, 0.6, 2.0, 0.5])[:, None, None], record=True)
    # v: 0.6, 0.9, 1.05 -> spike, reset 0; 2.0 -> spike, 0; 0.5
    np.testing.assert_array_equal(res.outputs["output"][:, 0, 0], [0, 0, 1, 1, 0])
    np.testing.assert_allclose(res.voltages["n0"][:, 0, 0], [0.6, 0.9, 0.0, 0.0, 0.5])


def test_threshold_is_strict_and_reset_is_to_v_reset():
    f = nir.IF(r=one(1), v_threshold=one(1), v_reset=one(-0.5))
    g = chain(f)
    # v: 1.0 (not > 1), 1.5 -> spike, reset -0.5; 0.75; 1.25 -> spike
    np.testing.assert_array_equal(run1(g, [1.0, 0.5, 1.25, 0.5], dt=1.0), [0, 1, 0, 1])


def test_dt_from_metadata_and_keyword():
    f = nir.IF(r=one(1), v_threshold=one(1), v_reset=one(0))
    # with dt = 0.5 an input of 1.2 adds 0.6 per step: fires at the second step
    g = chain(f, metadata={"sbn.dt": 0.5})
    np.testing.assert_array_equal(run1(g, [1.2, 1.2, 1.2]), [0, 1, 0])
    np.testing.assert_array_equal(run1(g, [1.2, 1.2, 1.2], dt=1.0), [1, 1, 1])
    assert execute(g, np.zeros((1, 1, 1))).dt == 0.5


def test_leaky_integrators_by_hand():
    li = nir.LI(tau=one(4), r=one(1), v_leak=one(1))  # dt = 1: v = 0.75 v + 0.25 (1 + x)
    g = chain(li)
    # rest is v_leak = 1; x = 3: 0.75 + 1.0 = 1.75; x = 0: 1.3125 + 0.25 = 1.5625
    np.testing.assert_allclose(run1(g, [3.0, 0.0], dt=1.0), [1.75, 1.5625])
    integ = nir.I(r=one(2))
    np.testing.assert_allclose(run1(chain(integ), [1.0, -0.5, 3.0], dt=0.5), [1.0, 0.5, 3.5])


def test_cuba_lif_by_hand():
    # dt = 1, tau_syn = 2, tau_mem = 4, r = 4, w_in = 2:
    # I = I + 0.5 (2 x - I);  v = 0.75 v + 0.25 * 4 I = 0.75 v + I
    node = nir.CubaLIF(
        tau_syn=one(2),
        tau_mem=one(4),
        r=one(4),
        v_leak=one(0),
        v_threshold=one(1.5),
        v_reset=one(0),
        w_in=2.0,
    )
    g = chain(node)
    res = execute(g, np.array([1.0, 0.0, 0.0])[:, None, None], dt=1.0, record=True)
    # t0: I = 1, v = 1 (no spike); t1: I = 0.5, v = 1.25; t2: I = 0.25, v = 1.1875
    np.testing.assert_allclose(res.voltages["n0"][:, 0, 0], [1.0, 1.25, 1.1875])
    np.testing.assert_array_equal(res.outputs["output"][:, 0, 0], [0, 0, 0])
    res = execute(g, np.array([1.0, 1.0, 0.0])[:, None, None], dt=1.0, record=True)
    # t1: I = 1 + 0.5 (2 - 1) = 1.5, v = 0.75 + 1.5 = 2.25 > 1.5 -> spike, reset to 0;
    # t2: I = 0.75, v = 0 + 0.75
    np.testing.assert_array_equal(res.outputs["output"][:, 0, 0], [0, 1, 0])
    np.testing.assert_allclose(res.voltages["n0"][:, 0, 0], [1.0, 0.0, 0.75])
    li = nir.CubaLI(tau_syn=one(2), tau_mem=one(4), r=one(4), v_leak=one(0), w_in=2.0)
    np.testing.assert_allclose(run1(chain(li), [1.0, 0.0, 0.0], dt=1.0), [1.0, 1.25, 1.1875])


def test_delay_and_threshold():
    g = chain(nir.Delay(delay=np.array([2e-3])), nir.Threshold(threshold=one(0.5)))
    np.testing.assert_array_equal(run1(g, [1.0, 0.0, 0.7, 0.2, 0.0], dt=1e-3), [0, 0, 1, 0, 1])
    with pytest.raises(GraphError, match="whole multiples"):
        run1(g, [1.0], dt=3e-3)


def test_state_starts_at_rest_on_every_call():
    lif = nir.LIF(tau=one(2), r=one(2), v_leak=one(0), v_threshold=one(1), v_reset=one(0))
    g = chain(lif)
    first = run1(g, [0.8, 0.8], dt=1.0)
    np.testing.assert_array_equal(first, run1(g, [0.8, 0.8], dt=1.0))
    np.testing.assert_array_equal(first, [0, 1])


# ---- structure ---------------------------------------------------------------------------
def test_recurrent_edge_carries_the_previous_step():
    nodes = {
        "input": nir.Input(input_type=np.array([1])),
        "cell": nir.IF(r=one(1), v_threshold=one(0.5), v_reset=one(0)),
        "rec": nir.Linear(weight=np.array([[10.0]])),
        "output": nir.Output(output_type=np.array([1])),
    }
    edges = [("input", "cell"), ("cell", "rec"), ("rec", "cell"), ("cell", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges)
    # t0: v = 1 -> spike; t1: v = 0 + 0 + 10 (the recurrent spike of t0) -> spike; ...
    np.testing.assert_array_equal(run1(g, [1.0, 0.0, 0.0], dt=1.0), [1, 1, 1])
    np.testing.assert_array_equal(run1(g, [0.0, 1.0, 0.0, 0.0], dt=1.0), [0, 1, 1, 1])


def test_nested_graph_is_flattened():
    inner = chain(nir.Scale(scale=one(3.0)))
    nodes = {
        "input": nir.Input(input_type=np.array([1])),
        "sub": inner,
        "after": nir.Scale(scale=one(-1.0)),
        "output": nir.Output(output_type=np.array([1])),
    }
    g = nir.NIRGraph(
        nodes=nodes, edges=[("input", "sub"), ("sub", "after"), ("after", "output")], type_check=False
    )
    res = execute(g, np.array([[[2.0]]]), record=True)
    assert res.outputs["output"][0, 0, 0] == -6.0
    assert res.trace["sub.n0"][0, 0, 0] == 6.0


def test_multiple_inputs_by_name():
    nodes = {
        "a": nir.Input(input_type=np.array([2])),
        "b": nir.Input(input_type=np.array([2])),
        "sum": nir.Scale(scale=np.ones(2)),
        "output": nir.Output(output_type=np.array([2])),
    }
    g = nir.NIRGraph(nodes=nodes, edges=[("a", "sum"), ("b", "sum"), ("sum", "output")])
    x = np.ones((3, 2, 2))
    out = execute(g, {"a": x, "b": 2 * x}).outputs["output"]
    np.testing.assert_array_equal(out, 3 * x)
    with pytest.raises(GraphError, match="pass a dict by name"):
        execute(g, x)
    with pytest.raises(GraphError, match="missing \\['b'\\]"):
        execute(g, {"a": x})


def test_wrong_input_shape_is_named():
    g = chain(nir.Scale(scale=np.ones(3)))
    with pytest.raises(GraphError, match=r"input 'input' has shape \(2, 1, 4\); expected \[T, B, 3\]"):
        execute(g, np.zeros((2, 1, 4)))


def test_unsupported_node_is_named_with_the_supported_list():
    from nir.ir.graph import Identity

    nodes = {
        "input": nir.Input(input_type=np.array([2])),
        "odd": Identity(input_type={"input": np.array([2])}),
        "output": nir.Output(output_type=np.array([2])),
    }
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "odd"), ("odd", "output")], type_check=False)
    with pytest.raises(GraphError) as info:
        execute(g, np.zeros((1, 1, 2)))
    message = str(info.value)
    assert "node 'odd' has NIR type Identity" in message
    assert "LIF" in message and "Conv2d" in message and "\n" not in message


def test_record_traces_every_node():
    lif = nir.LIF(tau=one(2), r=one(2), v_leak=one(0), v_threshold=one(1), v_reset=one(0))
    g = chain(nir.Scale(scale=one(2.0)), lif)
    res = execute(g, np.full((3, 4, 1), 0.4), record=True, dt=1.0)
    assert set(res.trace) == {"input", "n0", "n1", "output"}
    assert res.trace["n0"].shape == (3, 4, 1)
    np.testing.assert_array_equal(res.trace["n1"], res.outputs["output"])
    assert execute(g, np.full((3, 4, 1), 0.4), dt=1.0).trace == {}
