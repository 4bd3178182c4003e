"""partition: device then edge equals the whole graph; cuts that do not separate are refused."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from sbn.errors import GraphError
from sbn.graph import execute
from sbn.graph.export import export_nir
from sbn.graph.partition import partition, resolve_cut, split_points


def images(model, batch=3, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 3, 16, 16))
    return np.broadcast_to(x, (model.config.time_steps, *x.shape))


@pytest.mark.parametrize(
    "fixture,cut,node",
    [
        ("sbn_stride1", "RB3", "encoder.lif"),
        ("sbn_stride2", "rb2", "encoder.lif"),
        ("spiking_backbone", "RB4", "rb4.lif3"),
        ("spiking_backbone", "stem.lif", "stem.lif"),
    ],
)
def test_edge_after_device_equals_the_full_graph(fixture, cut, node, request):
    graph = export_nir(request.getfixturevalue(fixture))
    device, edge = partition(graph, cut)
    assert device.metadata["sbn.cut"] == node
    assert (device.metadata["sbn.part"], edge.metadata["sbn.part"]) == ("device", "edge")
    x = images(request.getfixturevalue(fixture))
    full = execute(graph, x, record=True)
    sent = execute(device, x).outputs["output"]
    np.testing.assert_array_equal(sent, full.trace[node])
    np.testing.assert_array_equal(execute(edge, sent).outputs["output"], full.outputs["output"])
    assert set(device.nodes) - {"output"} | set(edge.nodes) - {"input"} == set(graph.nodes)


def test_sbn_payload_is_the_encoder_spikes(sbn_stride2):
    graph = export_nir(sbn_stride2)
    device, edge = partition(graph, "RB2")
    c = sbn_stride2.config.bottleneck.channels
    np.testing.assert_array_equal(device.nodes["output"].output_type["output"], [c, 4, 4])
    np.testing.assert_array_equal(edge.nodes["input"].input_type["input"], [c, 4, 4])
    assert sorted(d for s, d in edge.edges if s == "input") == ["decoder.conv"]
    assert "decoder.conv" not in device.nodes and "encoder.conv" in device.nodes


def test_split_points_list_every_block(spiking_backbone, sbn_stride1):
    assert list(split_points(export_nir(spiking_backbone))) == [f"RB{k}" for k in range(1, 6)]
    points = split_points(export_nir(sbn_stride1))
    assert points["RB3"] == "encoder.lif" and points["RB2"] == "rb2.lif3"
    graph = export_nir(spiking_backbone)
    assert resolve_cut(graph, "rb03") == resolve_cut(graph, "RB3") == "rb3.lif3"


def test_residual_edge_crossing_the_cut_is_named(spiking_backbone):
    graph = export_nir(spiking_backbone)
    with pytest.raises(GraphError) as info:
        partition(graph, "rb3.lif1")  # RB3's identity shortcut jumps over it
    message = str(info.value)
    assert "does not separate the graph" in message
    assert "rb2.lif3 -> rb3.lif3" in message and "\n" not in message
    with pytest.raises(GraphError, match=r"1 edge\(s\) cross it .*\(rb3.lif3 -> rb4.downsample\)"):
        partition(graph, "rb4.conv2")


def test_unknown_split_lists_the_valid_ones(spiking_backbone):
    graph = export_nir(spiking_backbone)
    with pytest.raises(GraphError, match=r"unknown cut 'RB9'.*valid split points: RB1, RB2, RB3, RB4, RB5"):
        partition(graph, "RB9")


def test_input_output_and_recurrent_graphs_are_refused(spiking_backbone):
    graph = export_nir(spiking_backbone)
    with pytest.raises(GraphError, match="Output node"):
        partition(graph, "output")
    nodes = {
        "input": nir.Input(input_type=np.array([1])),
        "cell": nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
        "rec": nir.Linear(weight=np.ones((1, 1))),
        "output": nir.Output(output_type=np.array([1])),
    }
    rnn = nir.NIRGraph(
        nodes=nodes, edges=[("input", "cell"), ("cell", "rec"), ("rec", "cell"), ("cell", "output")]
    )
    with pytest.raises(GraphError, match="cycles"):
        partition(rnn, "cell")


def test_any_graph_can_be_cut_at_a_node():
    nodes = {
        "input": nir.Input(input_type=np.array([2])),
        "a": nir.Affine(weight=np.array([[1.0, 2.0], [3.0, 4.0]]), bias=np.array([1.0, 0.0])),
        "b": nir.Scale(scale=np.array([2.0, -1.0])),
        "output": nir.Output(output_type=np.array([2])),
    }
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "a"), ("a", "b"), ("b", "output")])
    device, edge = partition(graph, "a")
    assert set(device.nodes) == {"input", "a", "output"}
    assert set(edge.nodes) == {"input", "b", "output"}
    x = np.array([[[1.0, 1.0]]])
    mid = execute(device, x).outputs["output"]
    np.testing.assert_array_equal(mid, [[[4.0, 7.0]]])
    np.testing.assert_array_equal(execute(edge, mid).outputs["output"], [[[8.0, -7.0]]])


def test_a_split_point_is_one_idea_however_it_is_spelled():
    from sbn.models import parse_split, split_label

    assert [parse_split(s) for s in ("RB7", "rb7", "RB07", " 7 ", 7)] == [7] * 5
    assert split_label(7) == "RB7" and split_label(parse_split("rb07")) == "RB7"
