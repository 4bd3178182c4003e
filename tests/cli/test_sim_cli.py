"""`sbn sim` through its real entry point (sbn.cli.run -> click), on an `sbn export` folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


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
    are the AER frames', lost frames are counted, not fatal."""
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
    assert report["agreement"]["executor_outputs_identical"] is True
    assert report["agreement"]["payload_identical_to_executor"] is True  # as sent


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
    assert "executor: outputs identical True" in res.stdout


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
    assert len(lines) == 1 and lines[0].startswith("error: 2 of 2 samples failed after retries:"), res.stderr
    assert "accuracy - |" in res.stdout
    assert "reset mode 'subtract' cannot be simulated exactly" in lines[0]
