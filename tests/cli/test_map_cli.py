"""``sbn map`` through its real entry points (click runner and the installed scripts)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbn.cli import cli
from sbn.errors import MappingError

# ../shared, as tests/conftest.py found it
FIXTURES = Path(os.environ["SBN_SHARED"]) / "fixtures" / "nir-third-party"
BIN = Path(sys.executable).parent


def _run(*args):
    return CliRunner().invoke(cli, ["map", *map(str, args)], catch_exceptions=False)


def test_table_output():
    result = _run(FIXTURES / "cnn_sinabs.nir", "--target", "loihi2")
    assert result.exit_code == 0, result.output
    assert "on loihi2: 4 of 128 cores, 1 of 1 chip(s)" in result.output
    assert "traffic" not in result.output


def test_json_output_with_firing_rate():
    result = _run(
        FIXTURES / "two_lif_neurons.nir", "--target", "loihi2", "--format", "json", "--firing-rate", "0.5"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["schema"] == "sbn.map/1"
    assert report["summary"]["cores_used"] == 1
    assert report["rates"] == {"in": 0.5, "lif1": 0.5, "lif2": 0.5}
    # lif1 -> lif2 on the same core: 0.5 spikes per step, all inside it
    assert report["traffic"]["messages_within_core"] == pytest.approx(0.5)


def test_rates_file_and_out_file(tmp_path):
    rates = tmp_path / "rates.json"
    rates.write_text(json.dumps({"lif1": 0.2}))
    out = tmp_path / "reports" / "map.json"
    result = _run(
        FIXTURES / "two_lif_neurons.nir",
        "--target",
        "rolls",
        "--rates",
        rates,
        "--firing-rate",
        "0.1",
        "--format",
        "json",
        "--out",
        out,
    )
    assert result.exit_code == 0 and result.output == f"wrote {out}\n"  # the report in the file only
    report = json.loads(out.read_text())
    assert report["rates"] == {"in": 0.1, "lif1": 0.2, "lif2": 0.1}
    assert report["target"]["name"] == "rolls"
    assert not list(out.parent.glob(".*tmp"))  # atomic write left nothing behind


def test_user_target_file_and_chips_override(tmp_path):
    target = tmp_path / "small.toml"
    target.write_text(
        'name = "small"\ndescription = "x"\nchips = 1\ncores_per_chip = 2\nneurons_per_core = 2048\n'
        "synaptic_memory_bits_per_core = 1048576\nweight_bits = 8\nshared_conv_weights = true\n"
        "energy_per_synaptic_op_j = 1e-12\n"
    )
    ok = _run(FIXTURES / "cnn_sinabs.nir", "--target", target, "--chips", "4", "--format", "json")
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    # 2048-neuron cores: IF 1 and IF 3 take 2 cores each; IF 6 one; IF 10 (256 x 512 weights
    # = 131,072, a full core) and IF 12 one each -> 7 cores on 2-core chips
    assert report["summary"]["cores_used"] == 7 and report["summary"]["chips_used"] == 4
    assert report["target"]["chips"] == 4
    with pytest.raises(
        MappingError,
        match=r"^node 12: does not fit small \(3 chip\(s\) x 2 cores = 6\).*"
        r"over by 1 cores; try --chips 4$",
    ):
        _run(FIXTURES / "cnn_sinabs.nir", "--target", target, "--chips", "3")


def _script(name, *args):
    return subprocess.run([str(BIN / name), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_errors_are_one_line_with_exit_code_1():
    proc = _script("sbn", "map", FIXTURES / "cnn_sinabs.nir", "--target", "rolls")
    assert proc.returncode == 1
    assert proc.stderr == (
        "error: node 6 (fed by 5): fan-in of 576 synapses per neuron exceeds the "
        "512 a rolls neuron accepts by 64\n"
    )
    proc = _script("sbn", "map", FIXTURES / "lif_norse.nir", "--target", "truenorth")
    assert proc.returncode == 1
    assert proc.stderr == (
        "error: unknown target 'truenorth'; known targets: loihi2, rolls "
        "(or give a .toml/.json target file)\n"
    )


def test_sbn_map_alias_script(tmp_path):
    proc = _script(
        "sbn-map", FIXTURES / "braille_noDelay_bias_zero.nir", "--target", "rolls", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["neurons"] == 45


def test_bad_arguments():
    result = CliRunner().invoke(
        cli, ["map", str(FIXTURES / "lif_norse.nir"), "--target", "loihi2", "--firing-rate", "2"]
    )
    assert result.exit_code == 2 and "--firing-rate" in result.output
    result = CliRunner().invoke(cli, ["map", str(FIXTURES / "lif_norse.nir")])
    assert result.exit_code == 2 and "--target" in result.output
