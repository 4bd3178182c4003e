"""The portable profile: the same network as the sbn export, in the form other loaders run."""

from __future__ import annotations

import copy

import nir
import numpy as np
import pytest
import torch

from sbn.errors import ExportError
from sbn.graph import execute, graph_differences, load_nir, partition, save_nir
from sbn.graph.export import export_nir
from sbn.graph.portable import PORTABLE_DT, check_profile, portable_lif, to_portable


def both_profiles(model):
    graph = export_nir(model)
    return graph, to_portable(graph)[0]


def images_for(model, seed=7, batch=3):
    size = model.config.image_size
    x = np.random.default_rng(seed).random((batch, 3, size, size))
    return np.broadcast_to(x, (model.config.time_steps, *x.shape))


def neuron_names(graph):
    return [n for n, node in graph.nodes.items() if isinstance(node, (nir.LIF, nir.IF))]


@pytest.fixture(scope="module")
def sbn_phases_into_head(calibrate, make_config):
    """k = 0.5 with a stride-2 bottleneck after the last block: the head reads phases."""
    from sbn.models import BottleneckConfig

    return calibrate(make_config(bottleneck=BottleneckConfig(5, 16, 2)), seed=3)


@pytest.mark.parametrize(
    "fixture", ["sbn_stride1", "sbn_stride2", "sbn_phases_into_head", "spiking_backbone", "if_backbone"]
)
def test_same_spikes_at_every_neuron_and_same_logits(fixture, request):
    """k = 0.5 and k = 1 (IF): bit-identical spikes at every neuron, potentials exactly
    (1 - k) times the sbn profile's, logits to float64 rounding (the head sums in another
    order)."""
    model = copy.deepcopy(request.getfixturevalue(fixture)).double()
    exact, portable = both_profiles(model)
    x = images_for(model)
    ours, theirs = execute(exact, x, record=True), execute(portable, x, record=True)
    assert theirs.dt == PORTABLE_DT  # from the graph's own metadata
    decay = model.config.lif.decay
    gain = 1.0 if decay == 1.0 else 1.0 - decay
    for name in neuron_names(exact):
        assert 0.02 < ours.trace[name].mean() < 0.6, f"{name} hardly fires"
        np.testing.assert_array_equal(theirs.trace[name], ours.trace[name], err_msg=name)
        np.testing.assert_array_equal(theirs.voltages[name], gain * ours.voltages[name], err_msg=name)
    logits = theirs.outputs["output"]
    assert logits.shape[-2:] == (1, 1)
    np.testing.assert_allclose(logits[..., 0, 0], ours.outputs["output"], rtol=0, atol=1e-12)


def test_device_and_edge_files_agree_with_the_sbn_profile(sbn_stride2):
    """Stride-2 SpikeBottleNet: the portable device part sends the same payload, and the
    portable edge part fed that payload gives the sbn edge part's logits."""
    model = copy.deepcopy(sbn_stride2).double()
    exact, portable = both_profiles(model)
    x = images_for(model, seed=11)
    dev_exact, edge_exact = partition(exact, "encoder.lif")
    dev_port, edge_port = partition(portable, "encoder.lif")
    payload = execute(dev_exact, x).outputs["output"]
    assert 0.05 < payload.mean() < 0.6
    np.testing.assert_array_equal(execute(dev_port, x).outputs["output"], payload)
    want = execute(edge_exact, payload).outputs["output"]
    got = execute(edge_port, payload).outputs["output"][..., 0, 0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(execute(portable, x).outputs["output"][..., 0, 0], want, rtol=0, atol=1e-12)


def test_k_without_a_power_of_two_gain_is_close_not_exact(sbn_last_stride2):
    """k = 0.25 (gain 0.75): v and 0.75 u round differently; spikes may flip near V_th.
    Measured on this model: none did (the test allows 1e-3 and prints the fraction)."""
    model = copy.deepcopy(sbn_last_stride2).double()
    exact, portable = both_profiles(model)
    x = images_for(model, seed=5, batch=4)
    ours, theirs = execute(exact, x, record=True), execute(portable, x, record=True)
    names = neuron_names(exact)
    differ = sum(int((ours.trace[n] != theirs.trace[n]).sum()) for n in names)
    total = sum(ours.trace[n].size for n in names)
    volt = max(float(np.abs(theirs.voltages[n] - 0.75 * ours.voltages[n]).max()) for n in names)
    print(f"k = 0.25: {differ} of {total} spikes differ; potentials within {volt:.1e}")
    assert differ <= 1e-3 * total
    assert 0 < volt < 1e-12  # not bit-exact, but only rounding apart


def test_graph_has_no_flatten_pool_or_node_metadata_and_round_trips(tmp_path, sbn_stride2):
    exact, portable = both_profiles(sbn_stride2)
    kinds = {type(n).__name__ for n in portable.nodes.values()}
    assert not kinds & {"Flatten", "AvgPool2d", "Affine"}
    assert all(not n.metadata for n in portable.nodes.values())
    head = portable.nodes["head.fc"]
    assert isinstance(head, nir.Conv2d) and head.weight.shape[-2:] == (2, 2)  # the 2 x 2 final map
    lif = portable.nodes["stem.lif"]
    np.testing.assert_array_equal(np.unique(lif.tau), [2e-4])
    np.testing.assert_array_equal(np.unique(lif.r), [1.0])
    assert np.unique(lif.v_threshold).tolist() == [np.nextafter(0.5, 0)]
    assert portable.metadata["sbn.profile"] == "portable"
    assert portable.metadata["sbn.dt"] == PORTABLE_DT
    assert exact.nodes["stem.lif"].metadata  # the sbn graph itself is left as it was
    portable.infer_types()
    portable.check_types()
    save_nir(tmp_path / "p.nir", portable)
    assert graph_differences(load_nir(tmp_path / "p.nir"), portable) == []
    assert graph_differences(nir.read(tmp_path / "p.nir"), portable) == []


def test_moved_metadata_names_modules_and_phases(sbn_stride2):
    _, moved = to_portable(export_nir(sbn_stride2))
    assert moved["stem.conv"]["sbn.module"] == "backbone.stem.0"
    assert moved["decoder.lif"]["sbn.phases"] == 2


def test_portable_lif_threshold_is_the_model_rule():
    """v = (1 - k) u; v > nextafter((1 - k) V_th) is u >= V_th, ties included."""
    node = portable_lif(0.5, 1.0, (1,))
    g = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([1])), "lif": node, "output": nir.Output(np.array([1]))},
        edges=[("input", "lif"), ("lif", "output")],
        metadata={"sbn.dt": PORTABLE_DT},
    )
    x = np.array([0.5, 0.75, 0.3, 2.0])[:, None, None]  # u: 0.5, 1.0 (tie: spike), 0.3, 2.15
    spikes = execute(g, x).outputs["output"][:, 0, 0]
    assert spikes.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_unknown_profile_names_the_accepted_ones():
    with pytest.raises(ExportError, match="accepted profiles are sbn, portable"):
        check_profile("snntorch")


def test_a_portable_graph_is_not_converted_twice(sbn_stride1):
    portable = to_portable(export_nir(sbn_stride1))[0]
    with pytest.raises(ExportError, match="sbn profile"):
        to_portable(portable)


def test_float32_model_vs_portable_executor(sbn_stride1):
    """The float32 PyTorch model (what a framework runs) against the float64 portable graph."""
    portable = to_portable(export_nir(sbn_stride1))[0]
    x = images_for(sbn_stride1, seed=3)
    with torch.no_grad():
        logits = sbn_stride1(torch.from_numpy(x[0].astype(np.float32))).numpy()
    got = execute(portable, x).outputs["output"].mean(0)[..., 0, 0]
    np.testing.assert_array_equal(got.argmax(1), logits.argmax(1))
    np.testing.assert_allclose(got, logits, atol=1e-4)
