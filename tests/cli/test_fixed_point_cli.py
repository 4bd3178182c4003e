"""`sbn quantize` and `sbn sim --target loihi2` through the real entry point; the rates the
fixed-point Lava run measures go on to `sbn map` and `sbn energy`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

NEURONS = ["stem.lif", "rb1.lif1", "rb1.lif2", "rb1.lif3", "rb2.lif1", "rb2.lif2", "rb2.lif3", "encoder.lif"]
#: per-layer floors of the fixed-point run's spike agreement with the float graph, ~0.01
#: under what 3 digits measured (stem 0.996, rb1 0.996/0.987/0.995, rb2 0.990/0.979/0.994,
#: encoder 0.978)
AGREEMENT_FLOOR = {
    "stem.lif": 0.98,
    "rb1.lif1": 0.98,
    "rb1.lif2": 0.97,
    "rb1.lif3": 0.98,
    "rb2.lif1": 0.98,
    "rb2.lif2": 0.96,
    "rb2.lif3": 0.98,
    "encoder.lif": 0.96,
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, export_small_sbn):
    return export_small_sbn(tmp_path_factory.mktemp("fixed"))


def sbn(*args):
    return subprocess.run(
        [sys.executable, "-c", "from sbn.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_quantize_writes_the_file_and_records_it(run_sbn, exported):
    export = exported / "export"
    code, out, err = run_sbn("quantize", export, "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["target"] == "loihi2" and set(summary["neurons"]) == set(NEURONS)
    # k = 0.5: dv = 2048; vth 2048 unless a large folded bias forced a smaller scale (a note)
    assert all(n["dv"] == 2048 and 1 <= n["vth"] <= 2048 for n in summary["neurons"].values())
    lowered = [name for name, n in summary["neurons"].items() if n["vth"] < 2048]
    assert len(summary["notes"]) == len(lowered)
    assert (export / "device.loihi2.safetensors").is_file()
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["quantized"]["loihi2"] == "device.loihi2.safetensors"


def test_concurrent_quantize_runs_both_land_in_the_manifest(exported, tmp_path):
    import dataclasses

    from sbn.targets import get_target
    from sbn.targets.registry import save_target_file

    other = tmp_path / "loihi2b.json"
    save_target_file(other, dataclasses.replace(get_target("loihi2"), name="loihi2b"))
    export = exported / "export"
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from sbn.cli import main; main()",
                "quantize",
                str(export),
                "--target",
                spec,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for spec in ("loihi2", str(other))
    ]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()
    # each run re-reads the manifest under a lock before it records its file
    quantized = json.loads((export / "manifest.json").read_text())["quantized"]
    assert quantized == {"loihi2": "device.loihi2.safetensors", "loihi2b": "device.loihi2b.safetensors"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target", "rolls"], "target 'rolls' states no fixed-point format"),
        (["--headroom-bits", "18"], "leaves no threshold"),
    ],
)
def test_quantize_refusals_leave_nothing_behind(run_sbn, exported, tmp_path, args, message):
    out = tmp_path / "q.safetensors"
    code, _, err = run_sbn("quantize", exported / "export", "--out", out, *args)
    assert code == 1 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_quantize_does_not_write_over_its_input(run_sbn, exported):
    graph = exported / "export" / "device.nir"
    before = graph.read_bytes()
    code, _, err = run_sbn("quantize", graph, "--out", graph)
    assert code == 1 and "which this command reads or writes" in err
    assert graph.read_bytes() == before
    code, _, err = run_sbn("quantize", graph)
    assert code == 1 and "needs --out FILE" in err


def test_sim_does_not_write_over_its_inputs(run_sbn, exported):
    export = exported / "export"
    before = {p.name: p.read_bytes() for p in export.iterdir() if p.is_file()}
    for args in (
        ["--out", export / "device.nir"],
        ["--out", export / ".." / "export" / "manifest.json"],
        ["--target", "loihi2", "--rates-out", export / "edge.nir"],
        ["--target", "loihi2", "--out", exported / "r.json", "--rates-out", exported / "r.json"],
    ):
        code, _, err = run_sbn("sim", export, "--samples", "1", *args)
        assert code == 1 and "choose another file" in err and len(err.strip().splitlines()) == 1, err
    assert {p.name: p.read_bytes() for p in export.iterdir() if p.is_file()} == before
    assert not (exported / "r.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--chips", "2"], "--chips goes with --target"),
        (["--target", "rolls"], "target 'rolls' states no fixed-point format"),
        (["--target", "loihi2", "--workers", "2"], "--target runs in this process"),
    ],
)
def test_sim_target_argument_errors(run_sbn, exported, args, message):
    code, _, err = run_sbn("sim", exported / "export", "--samples", "1", *args)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1


def test_wrapped_currents_are_warned_on_stderr_in_any_format(run_sbn, exported, monkeypatch):
    """The report's warnings (a layer whose current wrapped) reach a JSON user too."""
    import sbn.fixed_point

    real = sbn.fixed_point.evaluate_fixed

    def wrapping(*args, **kwargs):
        report = real(*args, **kwargs)
        report["warnings"] = ["u wrapped 3 times in layer stem.lif"]
        return report

    monkeypatch.setattr(sbn.fixed_point, "evaluate_fixed", wrapping)
    code, out, err = run_sbn(
        "sim", exported / "export", "--target", "loihi2", "--samples", "1", "--format", "json"
    )
    assert code == 0, err
    assert "warning: u wrapped 3 times in layer stem.lif\n" in err
    assert json.loads(out)["warnings"] == ["u wrapped 3 times in layer stem.lif"]


def test_a_graph_that_does_not_fit_gets_the_map_message(run_sbn, exported, tmp_path):
    from sbn.targets import get_target
    from sbn.targets.registry import save_target_file

    small = get_target("loihi2").with_chips(1)
    import dataclasses

    small = dataclasses.replace(small, name="tiny", cores_per_chip=2)
    path = tmp_path / "tiny.json"
    save_target_file(path, small)
    code_map, _, err_map = run_sbn("map", exported / "export" / "device.nir", "--target", path)
    code_sim, _, err_sim = run_sbn("sim", exported / "export", "--target", path, "--samples", "1")
    assert code_map == code_sim == 1
    assert err_sim == err_map and "cores" in err_map


def test_sim_target_reports_and_hands_rates_to_map_and_energy(run_sbn, exported, tmp_path):
    export = exported / "export"
    rates = tmp_path / "rates.json"
    done = sbn(
        "sim",
        export,
        "--target",
        "loihi2",
        "--samples",
        "3",
        "--batch-size",
        "2",
        "--format",
        "json",
        "--rates-out",
        rates,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "sbn.sim-fixed/1" and report["samples"] == 3
    assert set(report["layers"]) == set(NEURONS)
    assert report["bytes_per_sample"]["measured"] == report["bytes_per_sample"]["manifest"]
    assert [r["index"] for r in report["results"]] == [0, 1, 2]
    for name, layer in report["layers"].items():
        # fixed point follows the float graph spike for spike, nearly: floors ~0.01 under
        # what was measured (0.978..0.996); rates within 0.008 of float (measured <= 0.0037;
        # rb2.lif2's threshold 5% off moves its rate by 0.010)
        assert layer["spike_agreement"] >= AGREEMENT_FLOOR[name], (name, layer["spike_agreement"])
        assert layer["firing_rate_float"] > 0.05, name  # every layer fires (measured 0.11..0.59)
        assert layer["firing_rate_fixed"] == pytest.approx(layer["firing_rate_float"], abs=0.008), name
        assert layer["firing_rate_fixed"] == pytest.approx(
            layer["spikes"] / (3 * 2 * layer["neurons"]), abs=1e-15
        )
        assert report["processes"][name]["kind"] == "LIFReset" and report["processes"][name]["cores"]
        assert layer["u_wraps"] == 0, name  # no input leaves the current at 6 bits of headroom
    assert report["warnings"] == []
    # synaptic ops per core add up to those per group and relay, and the energy is their price
    assert sum(c["synaptic_ops"] for c in report["cores"].values()) == sum(
        v["synaptic_ops"] for v in report["layers"].values()
    ) + sum(v["synaptic_ops"] for v in report["relays"].values())
    for name, relay in report["relays"].items():  # placed like any group, synapses on its cores
        assert relay["cores"] and report["processes"][name]["cores"] == relay["cores"]
        assert report["processes"][name + ".delay"]["cores"] == relay["cores"]
    assert all(p["cores"] for p in report["processes"].values() if p["kind"] != "RingBuffer")
    e = report["energy"]
    assert e["device_energy_per_sample_j"] == pytest.approx(e["synaptic_ops_per_sample"] * 23.6e-12)
    assert any(layer["spikes"] for layer in report["layers"].values())

    written = json.loads(rates.read_text())
    assert written["schema"] == "sbn.firing-rates/1" and written["time_steps"] == 2
    assert written["rates"] == {k: v["firing_rate_fixed"] for k, v in report["layers"].items()}

    code, out, err = run_sbn(
        "map",
        export / "device.nir",
        "--target",
        "loihi2",
        "--rates",
        rates,
        "--firing-rate",
        "0",
        "--format",
        "json",
    )
    assert code == 0, err
    traffic = json.loads(out)["traffic"]
    # neurons x rate summed over groups = spikes per step measured in Lava (3 samples x T 2)
    measured = sum(v["spikes"] for v in report["layers"].values()) / (3 * 2)
    assert traffic["spikes"] == pytest.approx(measured)

    code, out, err = run_sbn(
        "energy", "--checkpoint", exported / "m.safetensors", "--rates", rates, "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["firing_rates"]["source"].startswith("lava fixed point (loihi2)")
    # the device graph holds RB1..RB2: energy for the splits its rates cover
    assert [s["block"] for s in data["splits"]] == [1, 2]
    rate = written["rates"]["stem.lif"]  # enters RB1.conv1: 4 x 32 x 32 x 4 MACs at T 2
    assert data["splits"][0]["layers"][0]["syops"] == pytest.approx(rate * 2 * 4 * 32 * 32 * 4)
