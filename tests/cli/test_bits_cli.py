"""``sbn bits`` through the real entry point (``sbn.cli.main`` and the installed script)."""

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SBN = Path(sys.executable).parent / "sbn"
FIXTURES = Path(__file__).parents[1] / "energy" / "fixtures"


def test_one_row_table(run_sbn):
    code, out, err = run_sbn(
        "bits", "--arch", "resnet50", "--split", "RB16", "--channels", 32, "--stride", 2, "--T", 4
    )
    assert code == 0, err
    # the method's headline: 2048*4*4*4 = 131,072 raw bits, 32*2*2*4 = 512 sent, 256x
    assert "131,072" in out and "512" in out and "1,024" in out and "256x" in out
    assert "fewer bits than BottleNet++" in out and "50.0 %" in out and "-50.0 %" not in out


def test_one_row_json(run_sbn):
    code, out, _ = run_sbn("bits", "--split", "rb8", "--channels", 16, "--T", 2, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "sbn.bits/2"
    (row,) = data["rows"]
    # raw 1024*8*8*2 = 131072; sent 16*8*8*2 = 2048; BottleNet++ 16*8*8*8 = 8192
    assert (row["raw_bits"], row["spikebottlenet_bits"], row["bottlenet_pp_bits"]) == (131072, 2048, 8192)
    assert row["compression_ratio"] == 64.0 and row["reduction_vs_baseline_pct"] == 75.0


def test_whole_table_from_config_file_with_plot(run_sbn, tmp_path):
    expected = json.loads((FIXTURES / "bits_expected.json").read_text())["rows"]
    out_file, plot = tmp_path / "bits.csv", tmp_path / "bits.png"
    code, _, err = run_sbn(
        "bits", "--config", FIXTURES / "bits_table.toml", "--out", out_file, "--plot", plot
    )
    assert code == 0, err
    text = out_file.read_text()
    assert text.startswith("# sbn.bits/2")
    rows = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    for row, exp in zip(rows, expected, strict=True):
        assert row["split"] == exp["split"]
        assert int(row["raw_bits"]) == exp["raw_bits"]
        assert int(row["spikebottlenet_bits"]) == exp["spikebottlenet_bits"]
        assert int(row["bottlenet_pp_bits"]) == exp["bottlenet_pp_bits"]
        assert float(row["compression_ratio"]) == exp["compression_ratio"]
    assert plot.read_bytes().startswith(b"\x89PNG") and plot.stat().st_size > 10_000


def test_same_bottleneck_after_every_split_md(run_sbn):
    code, out, _ = run_sbn("bits", "--channels", 8, "--format", "md")
    assert code == 0
    assert len(re.findall(r"^\| RB\d+ \|", out, re.M)) == 16
    assert "| RB1 | 256x32x32 | 8x32x32 | 4 | 1,048,576 | 32,768 | 65,536 | 32 | 50 | 4,096 |" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--split", "RB17", "--channels", "8"], "unknown split 'RB17': valid splits are RB1..RB16"),
        (["--split", "RB16", "--channels", "8", "--stride", "3"], "stride 3 does not divide"),
        (["--split", "RB1"], "give --channels"),
        (["--channels", "0"], "Invalid value for '--channels': 0 is not in the range 1<=x<=65536"),
        (["--channels", "8", "--T", "9"], "9 is not in the range 1<=x<=8"),
        (["--config", "missing.toml"], "cannot read a bits config"),
        (["--config", "x.toml", "--channels", "8"], "--channels conflicts with --config"),
        (["--arch", "vgg16", "--channels", "8"], "Invalid value for '--arch'"),
    ],
)
def test_user_errors_are_one_line(run_sbn, monkeypatch, tmp_path, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_sbn("bits", *args)
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err, err


def test_installed_script():
    result = subprocess.run(
        [str(SBN), "bits", "--split", "RB16", "--channels", "32", "--stride", "2", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"][0]["compression_ratio"] == 256.0


def _payload_bytes(path, rows):
    path.write_text(
        json.dumps({"schema": "sbn.payload-bytes/1", "producer": "test", "source": "x", "rows": rows})
    )
    return path


def test_measured_payload_bytes_per_codec(run_sbn, tmp_path):
    """RB15/RB16 with C' = 32, stride 2, T = 4: 512 bits; the measured codecs beside them."""
    sizes = _payload_bytes(
        tmp_path / "p.json",
        [
            {
                "split": "RB16",
                "payload_shape": [32, 2, 2],
                "time_steps": 4,
                "samples": 8,
                "firing_rate": 0.1,
                "bytes_per_sample": {"bitmap": 64.0, "aer": 32.5, "zlib": 40.25},
            },
            {
                "split": "RB1",
                "payload_shape": [32, 16, 16],
                "time_steps": 4,
                "samples": 8,
                "firing_rate": 0.1,
                "bytes_per_sample": {"bitmap": 4096.0},
            },  # not in the table: left out
        ],
    )
    plot = tmp_path / "bits.png"
    code, out, err = run_sbn(
        "bits", "--channels", 32, "--stride", 2, "--split", "RB16", "--payloads", sizes, "--format", "json"
    )
    assert code == 0, err
    (row,) = json.loads(out)["rows"]
    assert row["measured_bytes_per_sample"] == {"bitmap": 64.0, "aer": 32.5, "zlib": 40.25}
    assert row["spikebottlenet_bits"] == 8 * row["measured_bytes_per_sample"]["bitmap"]
    code, out, err = run_sbn(
        "bits", "--channels", 32, "--stride", 2, "--split", "RB16", "--payloads", sizes, "--plot", plot
    )
    assert code == 0, err
    assert "aer bits" in out and "(measured)" in out and "260" in out and "322" in out  # 8 x 32.5, 8 x 40.25
    assert plot.read_bytes().startswith(b"\x89PNG")
    code, out, _ = run_sbn(
        "bits", "--channels", 32, "--stride", 2, "--split", "RB16", "--payloads", sizes, "--format", "csv"
    )
    header = out.splitlines()[1].split(",")
    assert header[-3:] == ["measured_bitmap_bytes", "measured_aer_bytes", "measured_zlib_bytes"]
    assert out.splitlines()[2].split(",")[-2:] == ["32.5", "40.25"]


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            [{"split": "RB16", "payload_shape": [16, 2, 2], "time_steps": 4, "bytes_per_sample": {}}],
            "the payloads measured at RB16 are 16x2x2 with T = 4, the table's row is 32x2x2 with T = 4",
        ),
        (
            [{"split": "RB3", "payload_shape": [32, 2, 2], "time_steps": 4, "bytes_per_sample": {}}],
            "measures RB3, none of the table's splits",
        ),
        ([{"split": "RB16"}], "malformed measured payload bytes"),
    ],
)
def test_measured_payload_bytes_that_do_not_fit_are_one_line(run_sbn, tmp_path, rows, message):
    sizes = _payload_bytes(tmp_path / "p.json", rows)
    code, _, err = run_sbn("bits", "--channels", 32, "--stride", 2, "--split", "RB16", "--payloads", sizes)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1
    assert message in err, err
