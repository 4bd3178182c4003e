"""`sbn channel` through its real entry point: accuracy per codec per channel, reproducible,
the payload-bytes file for `sbn bits`, one-line errors."""

from __future__ import annotations

import json
import math

import pytest


@pytest.fixture(scope="module")
def exported(tmp_path_factory, export_small_sbn):
    return export_small_sbn(tmp_path_factory.mktemp("channel"))


def test_report_plot_and_payload_bytes(run_sbn, exported, tmp_path):
    from sbn.wire.payload_sizes import read_payload_bytes

    out, plot, sizes = tmp_path / "c.json", tmp_path / "c.png", tmp_path / "bytes.json"
    args = [
        "channel",
        exported / "export",
        "--samples",
        12,
        "--codec",
        "bitmap",
        "--codec",
        "zlib",
        "--channel",
        "none",
        "--channel",
        "bsc:0.05",
        "--channel",
        "erasure:1",
        "--format",
        "json",
        "--seed",
        1,
    ]
    code, _, err = run_sbn(*args, "--out", out, "--plot", plot, "--payloads-out", sizes)
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["schema"] == "sbn.channel/1" and report["samples"] == 12 and report["split"] == "RB2"
    manifest = json.loads((exported / "export" / "manifest.json").read_text())
    assert report["payload_shape"] == manifest["payload_shape"]
    assert report["codecs"]["bitmap"]["bytes_per_sample"]["mean"] == manifest["bits_per_sample"] / 8
    rows = {(r["codec"], r["channel"]): r for r in report["results"]}
    assert len(rows) == 6
    for codec in ("bitmap", "zlib"):
        clean = rows[codec, "none"]
        assert clean["accuracy"] == report["clean_accuracy"] and clean["frames_changed"] == 0
        # every packet lost: all-zero payloads; zlib cannot decode zeros, the bitmap reads silence
        gone = rows[codec, "erasure:1"]
        assert gone["slot_error_rate"] == pytest.approx(report["payload_firing_rate"])
        assert gone["lost_frames"] == (12 if codec == "zlib" else 0)
    # 12 samples x 2048 slots (T 2 x 4 x 16 x 16): sigma = sqrt(0.05 * 0.95 / 24576) ~ 0.0014, ~4 sigma
    assert math.prod(manifest["payload_shape"]) == 2048
    assert rows["bitmap", "bsc:0.05"]["slot_error_rate"] == pytest.approx(0.05, abs=0.006)
    assert rows["zlib", "bsc:0.05"]["lost_frames"] == 12  # Adler-32 catches every damaged frame
    assert plot.read_bytes().startswith(b"\x89PNG")
    row = read_payload_bytes(sizes)["RB2"]
    assert row["bytes_per_sample"]["bitmap"] == manifest["bits_per_sample"] / 8
    assert [row["time_steps"], *row["payload_shape"]] == manifest["payload_shape"]
    assert list(row["raw_shape"]) == manifest["raw_shape"][1:]  # what `sbn bits --payloads` checks
    # the same seed: the same numbers; the table names every channel
    code, _, _ = run_sbn(*args, "--out", tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["results"] == report["results"]
    code, text, _ = run_sbn("channel", exported / "export", "--samples", 4, "--channel", "ge:0.01:0.2")
    assert code == 0 and "ge:0.01:0.2" in text and "rle" in text and "lzma" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--channel", "bsc:1.5"],
            "error: channel 'bsc:1.5': the flip probability P must be in [0, 1], got 1.5",
        ),
        (["--channel", "noise:0.1"], "error: unknown channel 'noise:0.1': known are none"),
        (["--codec", "huffman"], "error: Invalid value for '--codec': 'huffman' is not one of"),
        (["--plot", "x.gif"], "error: x.gif: cannot tell the plot format"),
    ],
)
def test_user_errors_are_one_line(run_sbn, exported, args, message):
    code, _, err = run_sbn("channel", exported / "export", *args)
    assert code == 1 and err.startswith(message) and err.count("\n") == 1, err


def test_a_graph_without_a_cut_is_refused(run_sbn, exported):
    code, _, err = run_sbn("channel", exported / "export" / "full.nir")
    assert code == 1 and "acts between a device and an edge graph" in err and err.count("\n") == 1
