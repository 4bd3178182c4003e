"""The ``sbn.firing-rates/1`` hand-off: ``sbn energy --save-rates`` -> ``sbn map --rates``, and
files keyed by NIR node name (as a Lava run writes them) read by both commands."""

import json
import re

import pytest

from sbn.checkpoint import Checkpoint, save
from sbn.models import BottleneckConfig, ModelConfig

# width 1/16: the stem and RB1 have 4 channels of 32 x 32; SpikeBottleNet split after RB2
CONFIG = ModelConfig(
    width=0.0625,
    layers=(1, 1, 1, 1),
    image_size=32,
    num_classes=10,
    time_steps=2,
    bottleneck=BottleneckConfig(split=2, channels=4, stride=1),
)
COUNTED = [f"rb{k}.conv{n}" for k in range(1, 5) for n in (1, 2, 3)]
NEURONS = [
    "stem.lif",
    "encoder.lif",
    "decoder.lif",
    *(f"rb{k}.lif{n}" for k in range(1, 5) for n in (1, 2, 3)),
]


@pytest.fixture(scope="module")
def model(tmp_path_factory, calibrate):
    from sbn.graph import export_checkpoint

    root = tmp_path_factory.mktemp("rates")
    save(root / "m.safetensors", Checkpoint(CONFIG, calibrate(CONFIG, 0).state_dict()))
    export_checkpoint(root / "m.safetensors", root / "export")
    return root


def _map(run_sbn, model, rates, *extra):
    code, out, err = run_sbn(
        "map",
        model / "export" / "full.nir",
        "--target",
        "loihi2",
        "--rates",
        rates,
        "--format",
        "json",
        *extra,
    )
    assert code == 0, err
    return json.loads(out)


def test_energy_writes_rates_that_map_reads(run_sbn, model, tmp_path):
    rates_path = tmp_path / "rates.json"
    code, out, err = run_sbn(
        "energy",
        "--checkpoint",
        model / "m.safetensors",
        "--samples",
        "4",
        "--save-rates",
        rates_path,
        "--format",
        "json",
    )
    assert code == 0, err
    saved = json.loads(rates_path.read_text())
    assert saved["schema"] == "sbn.firing-rates/1" and saved["time_steps"] == 2
    assert saved["samples"] == 4 and saved["source"] == "pytorch on digits"
    assert sorted(saved["rates"]) == sorted(COUNTED)  # NIR node names, not module paths
    assert json.loads(out)["firing_rates"]["rates"] == saved["rates"]
    r = saved["rates"]
    assert 0 < r["rb1.conv1"] < 1

    report = _map(run_sbn, model, rates_path, "--firing-rate", "0.05")
    got = report["rates"]
    # a rate keyed by a convolution is the rate of the spikes entering it
    assert got["stem.lif"] == r["rb1.conv1"]
    assert got["rb1.lif1"] == r["rb1.conv2"] and got["rb1.lif2"] == r["rb1.conv3"]
    assert got["rb1.lif3"] == r["rb2.conv1"]
    assert got["decoder.lif"] == r["rb3.conv1"]  # after the split RB3 is fed by the decoder
    assert got["input"] == got["encoder.lif"] == got["rb4.lif3"] == 0.05  # no counted layer
    spikes = sum(n["neurons"] * got[n["name"]] for n in report["nodes"])
    assert report["traffic"]["spikes"] == pytest.approx(spikes, rel=1e-12)

    # and the same file back into sbn energy gives the measured run's numbers
    code, again, err = run_sbn(
        "energy", "--checkpoint", model / "m.safetensors", "--rates", rates_path, "--format", "json"
    )
    assert code == 0, err
    assert json.loads(again)["splits"] == json.loads(out)["splits"]


def test_node_keyed_file_as_lava_writes_it(run_sbn, model, tmp_path):
    lava = tmp_path / "lava.json"
    rates = {name: 0.0 for name in ["input", *NEURONS]}
    rates["stem.lif"] = 0.25
    lava.write_text(
        json.dumps(
            {
                "schema": "sbn.firing-rates/1",
                "producer": "lava run",
                "source": "lava on digits",
                "samples": 3,
                "time_steps": 2,
                "extra": {},
                "rates": rates,
            }
        )
    )
    report = _map(run_sbn, model, lava, "--firing-rate", "0")
    # stem.lif: 4 x 32 x 32 = 4096 neurons at 0.25 spikes per step, everything else silent
    assert report["traffic"]["spikes"] == 4096 * 0.25 == 1024
    assert report["traffic"]["input_spikes"] == 0

    code, out, err = run_sbn(
        "energy", "--checkpoint", model / "m.safetensors", "--rates", lava, "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["firing_rates"]["source"] == "lava on digits"
    rb1 = data["splits"][0]
    # only RB1.conv1 (fed by stem.lif) receives spikes: 0.25 * T 2 * 4*32*32*4 MACs
    assert rb1["layers"][0]["macs"] == 4 * 32 * 32 * 4 == 16384
    assert rb1["syops"] == 0.25 * 2 * 16384 == 8192
    assert data["splits"][-1]["syops"] == 8192


def test_old_file_keyed_by_module_path(run_sbn, model, tmp_path):
    old = tmp_path / "old.json"
    old.write_text(
        json.dumps(
            {
                "schema": "sbn.firing-rates/1",
                "time_steps": 2,
                "rates": {"blocks.0.conv1": 0.3, "blocks.0.conv2": 0.2},
            }
        )
    )
    got = _map(run_sbn, model, old, "--firing-rate", "0.1")["rates"]
    # blocks.0.conv1 is module backbone.blocks.0.conv1, node rb1.conv1, fed by stem.lif
    assert got["stem.lif"] == 0.3 and got["rb1.lif1"] == 0.2 and got["rb1.lif2"] == 0.1


@pytest.mark.parametrize("command", ["map", "energy"])
@pytest.mark.parametrize(
    "content, message",
    [
        ({"schema": "sbn.firing-rates/1", "time_steps": 2, "rates": {"rb9.lif1": 0.1}}, r"'rb9\.lif1'"),
        ({"schema": "sbn.firing-rates/1", "time_steps": 2, "rates": {"nonsense": 0.1}}, r"'nonsense'"),
        (
            {"schema": "sbn.firing-rates/2", "time_steps": 2, "rates": {"rb1.conv1": 0.1}},
            r"key 'schema' is 'sbn.firing-rates/2'; this sbn reads firing rates",
        ),
        (
            {"schema": "sbn.firing-rates/1", "time_steps": 2, "rates": {"rb1.conv1": "high"}},
            r"firing rate of node 'rb1.conv1' must be a number in \[0, 1\]",
        ),
        (
            {"schema": "sbn.firing-rates/1", "time_steps": 2, "rates": {"rb1.conv1": 1.5}},
            r"firing rate of node 'rb1.conv1' must be a number in \[0, 1\]",
        ),
    ],
)
def test_bad_rate_files_are_one_line_errors(run_sbn, model, tmp_path, command, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(content))
    if command == "map":
        args = [
            "map",
            model / "export" / "full.nir",
            "--target",
            "loihi2",
            "--rates",
            bad,
            "--firing-rate",
            "0.1",
        ]
    else:
        args = ["energy", "--checkpoint", model / "m.safetensors", "--rates", bad]
    code, out, err = run_sbn(*args)
    assert code == 1, out
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err), err
