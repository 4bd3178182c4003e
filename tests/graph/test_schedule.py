"""The shared schedule: order, back edges and input rules, checked by hand on small graphs."""

from __future__ import annotations

import logging

import nir
import numpy as np
import pytest
from nir_graphs import biased_recurrent_affine, lif, two_neuron_loop

from sbn.errors import GraphError
from sbn.graph import execute
from sbn.graph.schedule import check_inputs, choose_dt, schedule, sum_inputs


def test_a_recurrent_weight_reads_its_neuron_of_the_previous_step():
    s = schedule(biased_recurrent_affine())
    # the cut is the edge leaving the neuron, not the one a DFS from the input would close
    assert s.back_edges == [("lif", "w_rec")]
    assert s.order == ["in", "w_in", "w_rec", "lif", "out"]
    assert s.preds["lif"] == ["w_in", "w_rec"] and s.back_preds["w_rec"] == ["lif"]
    assert s.inputs == ["in"] and s.outputs == ["out"]


def test_recurrent_bias_reaches_the_neuron_at_t0():
    """By hand: v = v + dt/tau (r x - v) with tau = r = 2, dt = 1 is v = v/2 + x.
    t = 0: x = in + w_rec(0) = [0, 0] + [0.75, 0] -> v = [0.75, 0] > 0.5: spike [1, 0], reset.
    t = 1: x = [0, 0] + w_rec([1, 0]) = [0.75, 0.5] -> v = [0.75, 0.5]: spike [1, 0] (0.5 is
    not > 0.5), v = [0, 0.5]."""
    out = execute(biased_recurrent_affine(), np.zeros((2, 1, 2)), dt=1.0).outputs["out"]
    np.testing.assert_array_equal(out[:, 0], [[1.0, 0.0], [1.0, 0.0]])


def test_a_loop_of_two_neurons_is_cut_on_both_edges():
    s = schedule(two_neuron_loop())
    assert s.back_edges == [("a", "b"), ("b", "a")]
    assert s.order == ["b", "in", "a", "out"]  # b reads only the past: it may run first


def test_two_neuron_loop_by_hand():
    """a: v = v/2 + in + b(t-1); b: v = v/2 + a(t-1); threshold 0.25.
    in = [1, 0, 0]: t0 a = 1 (v 1), b = 0; t1 a: 0 -> 0, b: a(t0)=1 -> spike;
    t2 a: b(t1) = 1 -> spike, b: v 0 + 0 -> 0."""
    x = np.array([1.0, 0.0, 0.0]).reshape(3, 1, 1)
    run = execute(two_neuron_loop(), x, dt=1.0, record=True)
    np.testing.assert_array_equal(run.trace["a"][:, 0, 0], [1, 0, 1])
    np.testing.assert_array_equal(run.outputs["out"][:, 0, 0], [0, 1, 0])


def test_a_cycle_without_state_is_cut_by_depth_first_search_from_the_input():
    g = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([1])}),
            "p": nir.Scale(scale=np.array([0.5])),
            "q": nir.Scale(scale=np.array([0.5])),
            "out": nir.Output(output_type={"output": np.array([1])}),
        },
        edges=[("in", "p"), ("p", "q"), ("q", "p"), ("q", "out")],
        type_check=False,
    )
    assert schedule(g).back_edges == [("q", "p")]


def test_nested_graphs_are_inlined_and_only_top_level_inputs_count():
    inner = nir.NIRGraph(
        nodes={
            "i": nir.Input(input_type={"input": np.array([2])}),
            "n": lif(2),
            "o": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("i", "n"), ("n", "o")],
    )
    g = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([2])}),
            "sub": inner,
            "out": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("in", "sub"), ("sub", "out")],
        type_check=False,
    )
    s = schedule(g)
    assert s.inputs == ["in"] and s.outputs == ["out"]
    assert s.order == ["in", "sub.i", "sub.n", "sub.o", "out"]


def test_input_rules():
    g = two_neuron_loop()
    with pytest.raises(GraphError, match=r"input 'in' has shape \(3, 1, 2\); expected \[T, B, 1\]"):
        check_inputs(g, ["in"], np.zeros((3, 1, 2)))
    with pytest.raises(GraphError, match="at least one time step"):
        check_inputs(g, ["in"], np.zeros((0, 1, 1)))
    with pytest.raises(GraphError, match=r"missing \['in'\], unknown \['x'\]"):
        check_inputs(g, ["in"], {"x": np.zeros((1, 1, 1))})
    with pytest.raises(GraphError, match=r"node 'n' sums inputs of different shapes \(2,\) and \(3,\)"):
        sum_inputs("n", [np.zeros((1, 2)), np.zeros((1, 3))], ["a", "b"])
    np.testing.assert_array_equal(sum_inputs("n", [np.ones((1, 2)), np.ones((1, 2))], ["a", "b"]), 2.0)
    assert sum_inputs("n", [], []) is None


def test_dt_falls_back_to_the_nir_default_with_a_warning(caplog):
    g = two_neuron_loop()
    with caplog.at_level(logging.WARNING):
        assert choose_dt(g, schedule(g).nodes, None) == 1e-4
    assert "states no sbn.dt" in caplog.text
    assert choose_dt(g, schedule(g).nodes, 0.5) == 0.5
    with pytest.raises(GraphError, match="dt must be > 0"):
        choose_dt(g, schedule(g).nodes, 0.0)
