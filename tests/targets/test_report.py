"""The sbn.map/1 report: content, JSON round trip, version check, readable rendering."""

import io
import json

import pytest
from rich.console import Console

from sbn.errors import ConfigError
from sbn.targets.groups import network_from_nir, read_network
from sbn.targets.placement import place
from sbn.targets.registry import get_target
from sbn.targets.report import MAP_SCHEMA, map_tables, read_report, report_dict, write_report
from sbn.targets.traffic import estimate_traffic, resolve_rates


def _text(report):
    buf = io.StringIO()
    Console(file=buf, width=140).print(map_tables(report))
    return buf.getvalue()


@pytest.fixture
def dense(nirb, make_target):
    net = network_from_nir(nirb.dense_chain([50, 1000, 30]), name="dense")
    return place(net, make_target(chips=4))


def test_report_content(dense):
    r = report_dict(dense)
    assert r["schema"] == MAP_SCHEMA == "sbn.map/1" and r["producer"].startswith("sbn ")
    assert r["graph"] == "dense" and r["target"]["name"] == "toy"
    s = r["summary"]
    assert (s["cores_used"], s["chips_used"], s["cores_available"]) == (13, 4, 16)
    assert s["neurons"] == 1030 and s["synapses"] == 1000 * 50 + 30 * 1000
    # 1030 neurons on 13 cores of 100; 80,000 weights on 13 cores of 10,000
    assert s["mean_neuron_utilisation"] == pytest.approx(1030 / 1300)
    assert s["mean_synapse_utilisation"] == pytest.approx(80_000 / 130_000)
    l2 = r["nodes"][1]
    assert (l2["name"], l2["fan_in"], l2["tiles"], l2["cores"], l2["chips"]) == (
        "l2",
        1000,
        3,
        [10, 11, 12],
        [2, 3],
    )
    assert l2["projections"] == [
        {"source": "l1", "via": ["l2.fc"], "fan_in": 1000, "shared_weights": None, "out_channels": None}
    ]
    assert r["nodes"][0]["fan_out"] == pytest.approx(30.0)
    core10 = r["cores"][10]
    assert core10 == {
        "core": 10,
        "chip": 2,
        "neurons": 10,
        "synaptic_memory": 10_000,
        "neuron_utilisation": 0.1,
        "synapse_utilisation": 1.0,
        "nodes": ["l2"],
    }
    assert r["traffic"] is None and r["rates"] is None


def test_json_round_trip(tmp_path, dense):
    rates = resolve_rates(dense, None, 0.1)
    report = report_dict(dense, estimate_traffic(dense, rates), rates)
    path = tmp_path / "out" / "map.json"
    write_report(path, report)
    assert read_report(path) == report
    assert json.loads(path.read_text())["traffic"]["spikes"] == pytest.approx(103.0)


def test_other_format_is_refused(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"format": "sbn.map/0"}))
    with pytest.raises(
        ConfigError, match=r"a.json: key 'schema' is 'sbn.map/0'; this sbn reads a map report"
    ):
        read_report(tmp_path / "a.json")
    (tmp_path / "b.json").write_text("{")
    with pytest.raises(ConfigError, match="b.json: not valid JSON"):
        read_report(tmp_path / "b.json")


def test_rendering_names_nodes_and_cores(dense):
    rates = resolve_rates(dense, None, 0.1)
    text = _text(report_dict(dense, estimate_traffic(dense, rates), rates))
    assert "dense on toy: 13 of 16 cores, 4 of 4 chip(s)" in text
    for word in ("l1", "l2", "cores", "spike messages across cores", "synaptic energy"):
        assert word in text


def test_large_placements_render_per_chip(resnet50):
    report = report_dict(place(network_from_nir(resnet50), get_target("loihi2").with_chips(4)))
    text = _text(report)
    assert "chips (509 cores; per-core rows in --format json)" in text
    assert len(report["cores"]) == 509


def test_third_party_reports(nirb):
    for name in (
        "cnn_sinabs.nir",
        "lif_norse.nir",
        "two_lif_neurons.nir",
        "braille_noDelay_bias_zero.nir",
        "braille_noDelay_noBias_subtract.nir",
    ):
        p = place(read_network(nirb.fixtures / name), get_target("loihi2"))
        r = report_dict(p)
        assert json.loads(json.dumps(r)) == r
        assert r["summary"]["chips_used"] == 1
