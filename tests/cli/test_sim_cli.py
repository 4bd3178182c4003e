"""`sbn sim` through its real entry point (sbn.cli.run -> click), on an `sbn export` folder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sbn.data import load_dataset
from sbn.graph import execute
from sbn.graph.io import load_nir


@pytest.fixture(scope="module")
def exported(tmp_path_factory, export_small_sbn):
    return export_small_sbn(tmp_path_factory.mktemp("sim"))


def sbn(*args):
    return subprocess.run(
        [sys.executable, "-c", "from sbn.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sim_json_report(exported):
    out = exported / "report.json"
    res = sbn(
        "sim",
        str(exported / "export"),
        "--samples",
        "3",
        "--checkpoint",
        str(exported / "m.safetensors"),
        "--format",
        "json",
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "sbn.sim/2"
    assert report["samples"] == 3 and len(report["results"]) == 3
    manifest = json.loads((exported / "export" / "manifest.json").read_text())
    size = manifest["bits_per_sample"] // 8
    assert report["bytes_per_sample"] == {"measured": float(size), "bitmap": size, "manifest": size}
    wire = report["wire"]
    assert (wire["codec"], wire["channel"], wire["lost_frames"]) == ("bitmap", "none", 0)
    assert set(wire["bytes_per_sample"]) == {"bitmap", "aer", "rle", "zlib", "lzma"}
    assert wire["bytes_per_sample"]["bitmap"] == {"mean": float(size), "min": size, "max": size}
    assert report["agreement"]["executor_outputs_identical"] is True
    assert report["agreement"]["executor_predictions"] == 1.0
    assert report["agreement"]["pytorch_predictions"] == 1.0
    assert all(r["bytes"] == manifest["bits_per_sample"] // 8 for r in report["results"])


def test_sim_through_a_noisy_channel(exported):
    """AER over a BSC: the edge runs on what arrived (Lava and the executor alike), the bytes
    are the AER frames', lost frames are counted, not fatal. The noise must have arrived: the
    reference executor on the same digits, over a perfect wire, gives the device firing the
    report measured but another edge firing (a channel that corrupts nothing would not)."""
    out = exported / "noisy.json"
    res = sbn(
        "sim",
        str(exported / "export"),
        "--samples",
        "4",
        "--fuse",
        "graph",
        "--codec",
        "aer",
        "--channel",
        "bsc:0.02",
        "--seed",
        "3",
        "--format",
        "json",
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    wire = report["wire"]
    assert (wire["codec"], wire["channel"], wire["seed"], wire["error_rate"]) == ("aer", "bsc:0.02", 3, 0.02)
    rows = report["results"]
    assert all(r["bytes"] == r["codec_bytes"]["aer"] for r in rows)
    assert report["bytes_per_sample"]["measured"] == sum(r["bytes"] for r in rows) / 4
    assert wire["lost_frames"] == sum(r["lost"] for r in rows)
    assert wire["lost_frames"] >= 1  # seed 3: sample 2's frame (a flipped count bit)
    assert report["agreement"]["executor_outputs_identical"] is True
    assert report["agreement"]["payload_identical_to_executor"] is True  # as sent

    x = load_dataset("digits").images[:4].double().numpy()
    device, edge = (load_nir(exported / "export" / f"{n}.nir") for n in ("device", "edge"))
    sent = execute(device, np.broadcast_to(x, (2, *x.shape))).outputs["output"]
    clean = execute(edge, sent, record=True).trace
    rates = report["firing_rates"]
    assert rates["device:encoder.lif"] == pytest.approx(sent.mean(), abs=1e-12)  # what was sent
    # measured: decoder 0.079 after the channel, 0.106 over a perfect wire
    assert abs(rates["edge:decoder.lif"] - clean["decoder.lif"].mean()) > 0.005


def _off_the_executor(real):
    """``simulate`` as ``simulate_split`` calls it, with Lava made wrong by hand: sample 1
    sends one spike flipped (device), and sample 0's edge output puts class 0 (or 1)
    ahead by 1000 (edge)."""

    def simulate(graph, inputs, **kwargs):
        run = real(graph, inputs, **kwargs)
        (name, out), *_ = run.outputs.items()
        out = out.copy()
        if graph.metadata["sbn.part"] == "device":
            out[0, 1].flat[0] = 1.0 - out[0, 1].flat[0]
        else:
            other = 1 if out[:, 0].mean(axis=0).argmax() == 0 else 0
            out[:, 0, other] += 1000.0
        run.outputs = {name: out}
        return run

    return simulate


def test_sim_reports_lava_off_the_executor(exported, run_sbn, monkeypatch):
    """The agreement flags can go False: in-process (no workers), Lava's device output
    flips one payload spike of sample 1 and its edge output changes sample 0's
    prediction. The executor reruns the edge on what arrived, so only sample 0's outputs
    differ; 3 of 4 predictions agree."""
    import sbn.targets.lava.split as split

    monkeypatch.setattr(split, "simulate", _off_the_executor(split.simulate))
    code, out, err = run_sbn(
        "sim", exported / "export", "--samples", "4", "--fuse", "graph", "--format", "json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["workers"] == 0
    rows = report["results"]
    assert [r["payload_identical"] for r in rows] == [True, False, True, True]
    assert [r["outputs_identical"] for r in rows] == [False, True, True, True]
    assert [r["prediction"] == r["executor"] for r in rows] == [False, True, True, True]
    assert report["agreement"]["payload_identical_to_executor"] is False
    assert report["agreement"]["executor_outputs_identical"] is False
    assert report["agreement"]["executor_predictions"] == 0.75


@pytest.mark.parametrize(
    "args, message",
    [
        (["--codec", "huffman"], "Invalid value for '--codec': 'huffman' is not one of 'bitmap', 'aer'"),
        (["--channel", "bsc:1.5"], "channel 'bsc:1.5': the flip probability P must be in [0, 1], got 1.5"),
        (["--channel", "radio:1"], "unknown channel 'radio:1'"),
        (["--channel", "bsc:0.1", "--target", "loihi2"], "--codec and --channel act between a device"),
    ],
)
def test_sim_wire_user_errors_are_one_line(exported, args, message):
    res = sbn("sim", str(exported / "export"), *args)
    assert res.returncode == 1
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr


def test_sim_single_graph_table(exported):
    res = sbn("sim", str(exported / "export" / "full.nir"), "--samples", "2", "--fuse", "graph")
    assert res.returncode == 0, res.stderr
    assert "outputs identical to executor yes" in res.stdout


def test_sim_bad_source_is_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    res = sbn("sim", str(tmp_path / "empty"))
    assert res.returncode == 1
    assert res.stderr.strip().startswith("error:") and "manifest.json" in res.stderr


def test_sim_on_ray_workers_equals_in_process(exported):
    """--workers 2: chunks of samples on two Ray workers, merged into the same report."""
    here, there = exported / "here.json", exported / "ray.json"
    common = [
        str(exported / "export"),
        "--samples",
        "6",
        "--batch-size",
        "3",
        "--fuse",
        "graph",
        "--checkpoint",
        str(exported / "m.safetensors"),
        "--format",
        "json",
    ]
    assert sbn("sim", *common, "--out", str(here)).returncode == 0
    res = sbn("sim", *common, "--workers", "2", "--out", str(there))
    assert res.returncode == 0, res.stderr
    a, b = json.loads(here.read_text()), json.loads(there.read_text())
    assert b["workers"] == 2 and b["simulated"] == 6 and b["failed"] == []
    assert a["results"] == b["results"]
    for key in (
        "accuracy",
        "agreement",
        "bytes_per_sample",
        "bits_on_the_wire",
        "payload_firing_rate",
        "firing_rates",
    ):
        assert a[key] == b[key], key
    manifest = json.loads((exported / "export" / "manifest.json").read_text())
    assert b["bits_on_the_wire"] == 6 * manifest["bits_per_sample"]
    assert b["agreement"]["payload_identical_to_executor"] is True


def test_address_needs_workers(exported):
    res = sbn("sim", str(exported / "export"), "--address", "auto")
    assert res.returncode == 1
    assert res.stderr == "error: --address needs Ray workers: give --workers 1 or more\n"


def test_table_when_every_sample_fails_is_one_line(exported, tmp_path):
    """A graph that loads but Lava refuses (a subtractive reset, which it cannot simulate
    exactly) fails every chunk: the table shows "-" for what no sample measured, and one
    error line says why (it used to crash formatting the missing accuracy). (A NaN weight
    once served; the reader refuses it now, before any run.)"""
    import nir

    graph = nir.read(exported / "export" / "full.nir")
    lif = next(n for n in graph.nodes.values() if isinstance(n, nir.LIF))
    lif.metadata = {**(lif.metadata or {}), "reset_mode": "subtract"}
    nir.write(tmp_path / "bad.nir", graph)
    res = sbn("sim", str(tmp_path / "bad.nir"), "--samples", "2", "--retries", "0")
    assert res.returncode == 1, res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: 2 of 2 samples failed:"), res.stderr
    assert "accuracy - |" in res.stdout
    assert "reset mode 'subtract' cannot be simulated exactly" in lines[0]
