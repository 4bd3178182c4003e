"""`sbn energy GRAPH.nir`: MACs, SyOPs and energy per node of any graph, by hand."""

from __future__ import annotations

import pytest
from nir_graphs import small_graph

from sbn.energy import resolve_preset
from sbn.energy.graph_energy import graph_energy
from sbn.errors import ConfigError

PRESETS = dict(snn=[resolve_preset("45nm"), resolve_preset("rolls")], ann=resolve_preset("45nm"))


def test_macs_syops_and_energy_by_hand():
    r = graph_energy(small_graph(), rates={"input": 0.5, "lif1": 0.25}, time_steps=4, **PRESETS)
    rows = {n["node"]: n for n in r["nodes"]}
    # conv: 2 x 4 x 4 outputs x (1 x 3 x 3) taps = 288; pool: 8 outputs x 4 taps; fc: 3 x 8
    assert {n: rows[n]["macs"] for n in rows} == {"conv": 288, "pool": 32, "fc": 24}
    assert rows["conv"]["spikes_from"] == "input" and rows["pool"]["spikes_from"] == "lif1"
    assert rows["fc"]["spikes_from"] is None  # a sum-pool's output is no spike train
    assert rows["conv"]["syops"] == 0.5 * 4 * 288 and rows["pool"]["syops"] == 0.25 * 4 * 32
    assert rows["fc"]["syops"] is None and rows["fc"]["snn_mj"] is None
    assert rows["conv"]["snn_mj"] == {
        "45nm": pytest.approx(576 * 0.9e-9),
        "rolls": pytest.approx(576 * 0.077e-9),
    }
    assert rows["conv"]["ann_mj"] == pytest.approx(288 * 4.6e-9)
    assert r["totals"]["syops"] == 576 + 32 and r["totals"]["macs"] == 344
    assert r["totals"]["nodes_without_spike_rate"] == ["fc"]
    assert r["schema"] == "sbn.energy-graph/1" and r["per"] == "inference of T steps"


def test_a_synaptic_key_is_the_rate_entering_it_and_uniform_covers_every_node():
    r = graph_energy(small_graph(), rates={"fc": 0.1}, time_steps=2, **PRESETS)
    rows = {n["node"]: n for n in r["nodes"]}
    assert rows["fc"]["syops"] == pytest.approx(0.1 * 2 * 24) and rows["conv"]["syops"] is None
    u = graph_energy(small_graph(), uniform=0.5, **PRESETS)
    assert [n["syops"] for n in u["nodes"]] == [144.0, 16.0, 12.0]  # T not stated: per step
    assert u["per"] == "time step (T not stated)"


def test_bad_rates_are_refused_by_name():
    with pytest.raises(ConfigError, match="'nope', which is not a node"):
        graph_energy(small_graph(), rates={"nope": 0.1}, **PRESETS)
    with pytest.raises(ConfigError, match=r"node 'lif1' must be a number in \[0, 1\]"):
        graph_energy(small_graph(), rates={"lif1": 1.5}, **PRESETS)
