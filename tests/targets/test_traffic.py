"""Spike traffic estimates: hand-computed messages across cores and chips; rate handling."""

import dataclasses
import json

import nir
import numpy as np
import pytest

from sbn.errors import ConfigError
from sbn.graph.rates import read_rates
from sbn.targets.groups import network_from_nir
from sbn.targets.placement import place
from sbn.targets.traffic import estimate_traffic, resolve_rates


@pytest.fixture
def split(nirb, make_target):
    """in (10) -> l1 (100, fan-in 10) -> l2 (50, fan-in 100) on 60-neuron cores, 2 per chip:
    l1 on cores 0 and 1 (50 + 50), l2 on core 2 (chip 1)."""
    net = network_from_nir(nirb.dense_chain([10, 100, 50]))
    p = place(net, make_target(neurons_per_core=60, cores_per_chip=2, chips=2))
    assert [(c.index, c.chip, c.neurons, c.groups) for c in p.cores] == [
        (0, 0, 50, ("l1",)),
        (1, 0, 50, ("l1",)),
        (2, 1, 50, ("l2",)),
    ]
    return p


def test_hand_computed_traffic(split):
    rates = resolve_rates(split, {"in": 0.5, "l1": 0.1, "l2": 0.2}, None)
    t = estimate_traffic(split, rates)
    assert t.input_spikes == pytest.approx(10 * 0.5)
    assert t.spikes == pytest.approx(100 * 0.1 + 50 * 0.2)
    # every input spike goes to both l1 cores (a dense layer reaches every tile)
    assert t.messages_from_inputs == pytest.approx(5 * 2)
    # each l1 tile (50 neurons x 0.1) sends its 5 spikes to core 2, on the other chip
    assert t.messages_across_cores == pytest.approx(10)
    assert t.messages_across_chips == pytest.approx(10)
    assert t.messages_within_core == 0
    assert t.output_spikes == pytest.approx(50 * 0.2)
    # synaptic ops: 5 input spikes x 100 targets + 10 l1 spikes x 50 targets
    assert t.synaptic_ops == pytest.approx(1000)
    assert t.neuron_updates == 150
    assert t.synaptic_energy_j == pytest.approx(1000 * 1e-12)
    assert t.neuron_energy_j == pytest.approx(150 * 2e-12)


def test_same_core_traffic_stays_inside(nirb, make_target):
    p = place(network_from_nir(nirb.dense_chain([4, 10, 10])), make_target())
    t = estimate_traffic(p, resolve_rates(p, None, 0.25))
    assert p.cores_used == 1
    assert t.messages_within_core == pytest.approx(10 * 0.25)
    assert t.messages_across_cores == 0 and t.messages_across_chips == 0


@pytest.mark.parametrize("groups, across", [(1, 20.0), (4, 10.0)])
def test_convolution_reaches_tiles_by_channel(nirb, make_target, groups, across):
    """lA (4x5x5) -> 1x1 conv -> lB (4x5x5); tiles of 50 neurons hold 2 whole channels.
    A full conv sends each lA spike to all 4 channels, i.e. both lB tiles (cores 2, 3): 2
    messages per spike; a depthwise conv (groups=4) reaches one channel, one tile."""
    conv = nir.Conv2d(
        input_shape=None,
        weight=nirb.zeros(4, 4 // groups, 1, 1),
        stride=1,
        padding=0,
        dilation=1,
        groups=groups,
        bias=nirb.zeros(4),
    )
    nodes = {
        "in": nir.Input(input_type=np.array([4, 5, 5])),
        "lA": nirb.lif(4, 5, 5),
        "c": conv,
        "lB": nirb.lif(4, 5, 5),
        "out": nir.Output(output_type=np.array([4, 5, 5])),
    }
    edges = [("in", "lA"), ("lA", "c"), ("c", "lB"), ("lB", "out")]
    p = place(
        network_from_nir(nir.NIRGraph(nodes=nodes, edges=edges)),
        make_target(neurons_per_core=50, cores_per_chip=4),
    )
    assert p.group("lA").tile_cores == (0, 1) and p.group("lB").tile_cores == (2, 3)
    t = estimate_traffic(p, resolve_rates(p, None, 0.1))
    assert t.messages_across_cores == pytest.approx(across)  # lA emits 100 x 0.1 = 10 spikes
    assert t.messages_across_chips == 0


def test_unknown_neuron_energy_stays_unknown(split):
    target = dataclasses.replace(split.target, energy_per_neuron_update_j=None)
    t = estimate_traffic(dataclasses.replace(split, target=target), resolve_rates(split, None, 0.1))
    assert t.neuron_energy_j is None and t.synaptic_energy_j == pytest.approx(t.synaptic_ops * 1e-12)


def test_one_to_one_edge_sends_one_message_per_spike(nirb, make_target):
    """lA -> lB by a plain edge (identity synapses): each spike reaches one lB tile."""
    nodes = {
        "in": nir.Input(input_type=np.array([1, 10, 10])),
        "c": nirb.conv(1, 1, 1),
        "lA": nirb.lif(1, 10, 10),
        "lB": nirb.lif(1, 10, 10),
        "out": nir.Output(output_type=np.array([1, 10, 10])),
    }
    edges = [("in", "c"), ("c", "lA"), ("lA", "lB"), ("lB", "out")]
    p = place(
        network_from_nir(nir.NIRGraph(nodes=nodes, edges=edges)),
        make_target(neurons_per_core=50, cores_per_chip=2, chips=2),
    )
    assert p.group("lA").tile_cores == (0, 1) and p.group("lB").tile_cores == (2, 3)
    t = estimate_traffic(p, resolve_rates(p, None, 0.1))
    assert t.messages_across_cores == pytest.approx(100 * 0.1)
    assert t.messages_across_chips == pytest.approx(100 * 0.1)
    assert t.messages_from_inputs == pytest.approx(100 * 0.1)


def test_default_rate_fills_missing(split):
    assert resolve_rates(split, {"l1": 0.3}, 0.05) == {"in": 0.05, "l1": 0.3, "l2": 0.05}


def test_rate_of_a_synaptic_node_is_its_source_rate(split):
    # as in the energy model: the rate keyed by a layer is that of the spikes entering it
    assert resolve_rates(split, {"l2.fc": 0.3, "l1.fc": 0.2}, 0.05) == {"in": 0.2, "l1": 0.3, "l2": 0.05}
    # a rate keyed by the neuron node itself wins
    assert resolve_rates(split, {"l2.fc": 0.3, "l1": 0.4}, 0.05)["l1"] == 0.4


@pytest.mark.parametrize(
    "rates, default, words",
    [
        ({"l9": 0.1}, 0.1, r"firing rate given for 'l9', which is not a node .*: in, l1, l2, l1.fc, l2.fc"),
        ({"l1.fc": -0.1}, 0.1, r"firing rate of node 'l1.fc' must be in \[0, 1\]"),
        ({"l1": 0.1}, None, r"no firing rate for node 'in'"),
        ({"l1": 1.5}, 0.1, r"firing rate of node 'l1' must be in \[0, 1\]"),
        ({"l1": "high"}, 0.1, r"firing rate of node 'l1' must be in \[0, 1\]"),
    ],
)
def test_bad_rates(split, rates, default, words):
    with pytest.raises(ConfigError, match=words):
        resolve_rates(split, rates, default)


def test_read_rates(tmp_path):
    (tmp_path / "plain.json").write_text(json.dumps({"l1": 0.1}))
    (tmp_path / "wrapped.json").write_text(
        json.dumps({"schema": "sbn.firing-rates/1", "time_steps": 4, "rates": {"l1": 0.2}})
    )
    (tmp_path / "future.json").write_text(json.dumps({"schema": "sbn.firing-rates/2", "rates": {}}))
    (tmp_path / "list.json").write_text("[0.1]")
    (tmp_path / "bad.json").write_text("{")
    assert dict(read_rates(tmp_path / "plain.json").rates) == {"l1": 0.1}
    assert dict(read_rates(tmp_path / "wrapped.json").rates) == {"l1": 0.2}
    with pytest.raises(
        ConfigError, match="future.json: key 'schema' is 'sbn.firing-rates/2'; this sbn reads firing rates"
    ):
        dict(read_rates(tmp_path / "future.json").rates)
    with pytest.raises(ConfigError, match="list.json: firing rates must be a table"):
        dict(read_rates(tmp_path / "list.json").rates)
    with pytest.raises(ConfigError, match="bad.json: not valid JSON"):
        dict(read_rates(tmp_path / "bad.json").rates)
    with pytest.raises(ConfigError, match="missing.json: cannot read firing rates"):
        dict(read_rates(tmp_path / "missing.json").rates)
