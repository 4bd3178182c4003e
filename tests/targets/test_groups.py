"""NIR graph -> neuron groups: shapes, composed fan-ins, third-party files, refusals."""

import nir
import numpy as np
import pytest

from sbn.errors import GraphError
from sbn.graph.shapes import infer_shapes
from sbn.targets.groups import network_from_nir, read_network


def _proj(group):
    return [(p.source, p.fan_in, p.shared_weights, p.via) for p in group.projections]


def test_sinabs_cnn(nirb):
    net = read_network(nirb.fixtures / "cnn_sinabs.nir")
    assert net.inputs == {"input": (2, 34, 34)}
    g = {x.name: x for x in net.groups}
    assert sorted(g) == ["1", "10", "12", "3", "6"]
    assert g["1"].shape == (16, 16, 16) and _proj(g["1"]) == [("input", 2 * 5 * 5, 50, ("0",))]
    assert _proj(g["3"]) == [("1", 16 * 3 * 3, 144, ("2",))]
    # SumPool 2x2/2 then conv 3x3: receptive field 2 + (3-1)*2 = 6 per side, 16 channels
    assert _proj(g["6"]) == [("3", 16 * 6 * 6, 576, ("4", "5"))]
    assert g["6"].projections[0].out_channels == 8  # pool keeps the channel, conv reaches all 8
    # SumPool 2x2 -> Flatten -> Affine(128 -> 256): every neuron reads all 8x8x8 outputs of IF 6
    assert _proj(g["10"]) == [("6", 512, None, ("7", "8", "9"))]
    assert _proj(g["12"]) == [("10", 256, None, ("11",))]
    assert g["12"].external_output and not g["10"].external_output


def test_norse_single_lif(nirb):
    net = read_network(nirb.fixtures / "lif_norse.nir")
    (g,) = net.groups
    assert (g.name, g.kind, g.neurons, g.fan_in, g.external_output) == ("1", "LIF", 1, 1, True)


def test_two_lif_neurons(nirb):
    net = read_network(nirb.fixtures / "two_lif_neurons.nir")
    assert [(g.name, _proj(g)) for g in net.groups] == [
        ("lif1", [("in", 1, None, ("linear1",))]),
        ("lif2", [("lif1", 1, None, ("linear2",))]),
    ]


@pytest.mark.parametrize(
    "name, hidden", [("braille_noDelay_bias_zero.nir", 38), ("braille_noDelay_noBias_subtract.nir", 40)]
)
def test_braille_recurrence(nirb, name, hidden):
    net = read_network(nirb.fixtures / name)
    g = {x.name: x for x in net.groups}
    # the recurrent weights are a projection of lif1.lif onto itself
    assert sorted(_proj(g["lif1.lif"])) == sorted(
        [("lif1.lif", hidden, None, ("lif1.w_rec",)), ("input", 12, None, ("fc1",))]
    )
    assert g["lif1.lif"].fan_in == hidden + 12 and g["lif1.lif"].kind == "CubaLIF"
    assert _proj(g["lif2"]) == [("lif1.lif", hidden, None, ("fc2",))]
    assert "lif1.lif" in net.graph().successors("lif1.lif")


def test_conv_shapes_inferred_without_input_shape(nirb):
    nodes = {
        "in": nir.Input(input_type=np.array([3, 9, 9])),
        "c1": nirb.conv(3, 8, 3, stride=2, padding=1),  # input_shape=None as sinabs-like files
        "l1": nirb.lif(8, 5, 5),
        "p": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "c2": nirb.conv(8, 4, 1),
        "l2": nirb.lif(4, 2, 2),
        "out": nir.Output(output_type=np.array([4, 2, 2])),
    }
    edges = [("in", "c1"), ("c1", "l1"), ("l1", "p"), ("p", "c2"), ("c2", "l2"), ("l2", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    for node in ("c1", "p", "c2"):
        graph.nodes[node].input_type = {"input": None}
        graph.nodes[node].output_type = {"output": None}
    shapes = infer_shapes(graph)
    assert shapes["c1"] == (8, 5, 5) and shapes["p"] == (8, 2, 2) and shapes["c2"] == (4, 2, 2)
    g = {x.name: x for x in network_from_nir(graph).groups}
    assert g["l1"].fan_in == 27
    # pool 2x2/2 then 1x1 conv over 8 channels: field 2x2, 8 channels
    assert g["l2"].fan_in == 32


def test_residual_sum_has_two_projections(nirb):
    net = network_from_nir(nirb.resnet_graph(width=4, stages=(2, 1), size=8, classes=3))
    g = {x.name: x for x in net.groups}
    # first block: expand conv (planes=4 inputs) + projection shortcut (1x1 from the stem, 4 channels)
    assert _proj(g["s1b1.lif3"]) == [("s1b1.lif2", 4, 4, ("s1b1.conv3",)), ("stem.lif", 4, 4, ("s1b1.down",))]
    # second block: identity shortcut, one synapse per neuron from the block input
    assert _proj(g["s1b2.lif3"]) == [("s1b2.lif2", 4, 4, ("s1b2.conv3",)), ("s1b1.lif3", 1, 1, ())]
    assert g["s2b1.lif2"].shape == (8, 4, 4) and g["s2b1.lif2"].fan_in == 8 * 9
    # channels of the receiving group one source neuron reaches
    assert [p.out_channels for p in g["s1b2.lif3"].projections] == [16, 1]
    assert [p.out_channels for p in g["head.fc"].projections] == [None]
    # the readout Affine feeds the Output with no neuron after it: its own (non-spiking) group
    assert g["head.fc"].kind == "Affine" and g["head.fc"].external_output
    assert g["head.fc"].fan_in == 32 * 4 * 4  # avg-pool over 4x4 then dense over 32 channels


def test_refuses_nested_graph(nirb):
    inner = nirb.dense_chain([2, 2])
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([2])),
            "sub": inner,
            "out": nir.Output(output_type=np.array([2])),
        },
        edges=[("in", "sub"), ("sub", "out")],
        type_check=False,
    )
    with pytest.raises(GraphError, match="node sub: nested NIRGraph subgraphs are not supported"):
        network_from_nir(graph)


def test_refuses_algebraic_loop(nirb):
    nodes = {
        "in": nir.Input(input_type=np.array([3])),
        "a": nir.Linear(weight=nirb.zeros(3, 3)),
        "b": nir.Linear(weight=nirb.zeros(3, 3)),
        "l": nirb.lif(3),
        "out": nir.Output(output_type=np.array([3])),
    }
    edges = [("in", "a"), ("a", "b"), ("b", "a"), ("b", "l"), ("l", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(GraphError, match="passes through no neuron node"):
        network_from_nir(graph)


def test_refuses_mismatched_sum(nirb):
    nodes = {
        "in": nir.Input(input_type=np.array([3])),
        "a": nir.Linear(weight=nirb.zeros(4, 3)),
        "b": nir.Linear(weight=nirb.zeros(5, 3)),
        "f": nir.Flatten(input_type=None, start_dim=0, end_dim=-1),
        "l": nirb.lif(4),
        "out": nir.Output(output_type=np.array([4])),
    }
    edges = [("in", "a"), ("in", "b"), ("a", "f"), ("b", "f"), ("f", "l"), ("l", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(GraphError, match=r"node f: incoming shapes .* cannot be summed"):
        network_from_nir(graph)


def test_unreadable_file(tmp_path):
    with pytest.raises(GraphError, match="no such NIR file"):
        read_network(tmp_path / "missing.nir")
    (tmp_path / "junk.nir").write_text("not hdf5")
    with pytest.raises(GraphError, match="not a readable NIR"):
        read_network(tmp_path / "junk.nir")


@pytest.mark.parametrize("padding, side", [("same", 8), ("valid", 6), (1, 8)])
def test_written_and_read_back_conv_padding(tmp_path, nirb, padding, side):
    """Conv2d with string or int padding survives nir.write/nir.read and shape inference."""
    conv = nir.Conv2d(
        input_shape=None,
        weight=nirb.zeros(4, 2, 3, 3),
        stride=1,
        padding=padding,
        dilation=1,
        groups=1,
        bias=nirb.zeros(4),
    )
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([2, 8, 8])),
            "c": conv,
            "l": nirb.lif(4, side, side),
            "out": nir.Output(output_type=np.array([4, side, side])),
        },
        edges=[("in", "c"), ("c", "l"), ("l", "out")],
    )
    nir.write(tmp_path / "g.nir", graph)
    (g,) = read_network(tmp_path / "g.nir").groups
    assert (g.shape, g.fan_in, g.projections[0].shared_weights) == ((4, side, side), 18, 18)
