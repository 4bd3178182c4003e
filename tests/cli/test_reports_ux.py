"""Reports and their files: --out replaces only an earlier report, checks before the work,
the bits table's sign, payloads of another model, the split marked in the energy table,
coarse quantised weights, and messages that name what the user typed."""

from __future__ import annotations

import json

import pytest

ROW = {"split": "RB7", "payload_shape": [16, 16, 16], "time_steps": 4, "samples": 8, "firing_rate": 0.1}
BITS = ("bits", "--split", "RB7", "--channels", 16, "--T", 4)


# ---- 1. --out replaces only an earlier report ----------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        ["bits", "--channels", "4", "--format", "json", "--out", "{target}"],
        ["energy", "--firing-rate", "0.1", "--format", "json", "--out", "{target}"],
    ],
    ids=["bits", "energy"],
)
@pytest.mark.parametrize(
    "target, match",
    [
        ("m.safetensors", "holds binary data"),  # a trained checkpoint
        ("export/manifest.json", "a file of the export folder"),
        ("export/device.nir", "a file of the export folder"),
        ("rates.json", "JSON data of schema 'sbn.firing-rates/1'"),
        ("NOTES.md", "text that is not a report"),
    ],
)
def test_out_never_replaces_what_is_not_a_report(work, refused, command, target, match):
    (work / "rates.json").write_text(json.dumps({"schema": "sbn.firing-rates/1", "rates": {}}))
    (work / "NOTES.md").write_text("results of last week\n")
    args = [a.format(target=work / target) for a in command]
    line = refused(*args, touches=[work], match=match)
    assert str(work / target) in line and "choose another file" in line


@pytest.mark.parametrize("fmt, suffix", [("json", "json"), ("csv", "csv"), ("md", "md")])
def test_a_report_replaces_an_earlier_report(run_sbn, tmp_path, fmt, suffix):
    out = tmp_path / f"r.{suffix}"
    for command in (["energy", "--firing-rate", "0.1"], [*BITS], [*BITS]):  # energy, then bits over it
        code, _, err = run_sbn(*command, "--format", fmt, "--out", out)
        assert code == 0, err
    assert "sbn.bits/" in out.read_text()


def test_a_table_report_may_be_replaced(tmp_path):
    """`--format table` reports (sim, map, channel) carry no schema: their rules say what they are."""
    import io

    from rich.console import Console
    from rich.table import Table

    from sbn.cli.report_output import emit

    table = Table(title="sbn channel: x")
    table.add_column("codec")
    table.add_row("aer")
    buf = io.StringIO()
    Console(file=buf, width=60, force_terminal=False).print(table)
    out = tmp_path / "r.txt"
    out.write_text(buf.getvalue())
    emit("new\n", out)
    assert out.read_text() == "new\n"


def test_emit_is_the_last_guard(work):
    """sim, channel and sweep write through emit without checking first."""
    from sbn.cli.report_output import emit
    from sbn.errors import ConfigError

    before = (work / "m.safetensors").read_bytes()
    with pytest.raises(ConfigError, match="binary data"):
        emit("{}\n", work / "m.safetensors")
    assert (work / "m.safetensors").read_bytes() == before


def test_quantize_out_replaces_only_a_quantisation(work, run_sbn, refused):
    export = work / "export"
    refused(
        "quantize",
        export,
        "--out",
        work / "m.safetensors",
        touches=[work],
        match="not a file of `sbn quantize`",
    )
    for _ in range(2):  # its own earlier output is replaced
        code, _, err = run_sbn("quantize", export, "--out", work / "q.safetensors")
        assert code == 0, err


@pytest.mark.parametrize(
    "command, flag, kind",
    [
        (["energy", "--firing-rate", "0.1", "--format", "json"], "--save-rates", "a rates file"),
        (["sim", "{export}", "--target", "loihi2", "--samples", "1"], "--rates-out", "a rates file"),
        (["channel", "{export}", "--samples", "1"], "--payloads-out", "a payload-bytes file"),
    ],
    ids=["save-rates", "rates-out", "payloads-out"],
)
@pytest.mark.parametrize(
    "target, match",
    [
        ("m.safetensors", "holds binary data"),
        ("export/manifest.json", "manifest.json"),  # an input to sim and channel
        ("report.json", "JSON data of schema 'sbn.energy/1'"),
        ("NOTES.md", "text that is not a"),
    ],
)
def test_data_beside_a_report_replaces_only_its_own_kind(work, refused, command, flag, kind, target, match):
    (work / "report.json").write_text(json.dumps({"schema": "sbn.energy/1", "rows": []}))
    (work / "NOTES.md").write_text("results of last week\n")
    args = [str(a).format(export=work / "export") for a in command]
    line = refused(*args, flag, work / target, touches=[work], match=match)
    assert line.startswith(f"error: {flag} {work / target}") and "choose another file" in line
    if target.endswith("manifest.json"):
        assert "a file of the export folder" in line or "is the input" in line
    else:
        assert f"{kind} replaces only an earlier sbn {kind.split(' ', 1)[1]}" in line


def test_save_rates_replaces_earlier_rates(run_sbn, tmp_path):
    rates = tmp_path / "r.json"
    for rate in ("0.1", "0.2"):
        code, _, err = run_sbn("energy", "--firing-rate", rate, "--format", "json", "--save-rates", rates)
        assert code == 0, err
    assert json.loads(rates.read_text())["schema"] == "sbn.firing-rates/1"
    assert 0.2 in json.loads(rates.read_text())["rates"].values()


def test_payload_bytes_replace_earlier_payload_bytes(tmp_path):
    from sbn.cli.report_output import PAYLOAD_BYTES, RATES, refuse_replacing
    from sbn.errors import ConfigError
    from sbn.wire.payload_sizes import write_payload_bytes

    sizes = tmp_path / "p.json"
    write_payload_bytes(sizes, [ROW], source="t")
    refuse_replacing(sizes, "--payloads-out", PAYLOAD_BYTES)  # its own kind: no error
    with pytest.raises(ConfigError, match="JSON data of schema 'sbn.payload-bytes/1'"):
        refuse_replacing(sizes, "--rates-out", RATES)


def test_stream_outputs_replace_only_an_earlier_run(run_sbn, tmp_path, refused):
    """`sim GRAPH --input X --out Y.npz` replaces Y only where Y holds this graph's outputs."""
    import nir
    import numpy as np
    from nir_graphs import biased_recurrent_affine

    nir.write(tmp_path / "g.nir", biased_recurrent_affine())
    np.save(tmp_path / "x.npy", np.ones((3, 1, 2)))
    args = ("sim", tmp_path / "g.nir", "--input", tmp_path / "x.npy", "--backend", "executor")
    for _ in range(2):  # a new file, then the earlier run's
        code, _, err = run_sbn(*args, "--out", tmp_path / "y.npz")
        assert code == 0, err
    np.savez(tmp_path / "w.npz", weight=np.ones(3))
    refused(*args, "--out", tmp_path / "w.npz", touches=[tmp_path / "w.npz"], match="no output streams")
    (tmp_path / "notes.npz").write_text("not a zip")
    refused(*args, "--out", tmp_path / "notes.npz", touches=[tmp_path], match="no output streams")


# ---- 2. coarse quantised weights -------------------------------------------------------------
def test_quantize_warns_where_weights_round_to_zero(work, run_sbn):
    code, out, err = run_sbn(
        "quantize",
        work / "export",
        "--headroom-bits",
        17,
        "--out",
        work / "q.safetensors",
        "--format",
        "json",
    )
    assert code == 0, err
    report = json.loads(out)
    assert "warning: stem.conv: weights round to zero at --headroom-bits 17" in err
    assert report["projections"]["stem.conv"] == {**report["projections"]["stem.conv"], "coarse": True}
    assert any(w.startswith("stem.conv: weights round to zero") for w in report["warnings"])
    assert err.count("warning: ") == len(report["warnings"])
    # rb1.conv3 is zero in the float graph too (zero-initialised): no rounding lost it
    assert "rb1.conv3" not in err and report["projections"]["rb1.conv3"]["weight_mant_peak"] == 0


def test_quantize_default_headroom_warns_about_nothing(work, run_sbn):
    code, out, err = run_sbn("quantize", work / "export", "--format", "json")
    assert code == 0, err
    assert "warning" not in err and json.loads(out)["warnings"] == []


# ---- 3. the bits table says what json/csv/md say ---------------------------------------------
def test_bits_table_says_fewer_bits_with_the_json_sign(run_sbn):
    args = ("bits", "--split", "RB16", "--channels", 32, "--stride", 2)
    code, table, _ = run_sbn(*args)
    assert code == 0
    pct = json.loads(run_sbn(*args, "--format", "json")[1])["rows"][0]["reduction_vs_baseline_pct"]
    assert pct == 50.0 and "fewer bits than BottleNet++" in table
    assert "50.0 %" in table and "-50.0" not in table


# ---- 4. payloads of another model ------------------------------------------------------------
def test_payloads_of_another_width_are_refused(run_sbn, tmp_path, refused):
    sizes = tmp_path / "p.json"
    row = {**ROW, "bytes_per_sample": {"aer": 100.0}, "raw_shape": [32, 16, 16]}  # width 1/16
    sizes.write_text(
        json.dumps({"schema": "sbn.payload-bytes/1", "producer": "t", "source": "x", "rows": [row]})
    )
    refused(*BITS, "--payloads", sizes, match="raw 32x16x16 feature, the table's row a raw 512x16x16")
    code, out, err = run_sbn(*BITS, "--width", 0.0625, "--payloads", sizes, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["rows"][0]["measured_bytes_per_sample"] == {"aer": 100.0}


def test_payloads_without_a_model_are_read_with_a_note(run_sbn, tmp_path):
    sizes = tmp_path / "p.json"
    row = {**ROW, "bytes_per_sample": {"aer": 100.0}}  # written before raw_shape was recorded
    sizes.write_text(
        json.dumps({"schema": "sbn.payload-bytes/1", "producer": "t", "source": "x", "rows": [row]})
    )
    code, _, err = run_sbn(*BITS, "--payloads", sizes, "--format", "json")
    assert code == 0
    assert "no raw_shape" in err and "width 1.0 (raw RB7 512x16x16)" in err


def test_payload_rows_record_the_raw_shape():
    import numpy as np

    from sbn.wire.payload_sizes import measure_row

    sent = np.zeros((2, 3, 4, 2, 2), dtype=np.uint8)
    assert measure_row("RB7", sent, raw_shape=(32, 4, 4))["raw_shape"] == [32, 4, 4]
    assert "raw_shape" not in measure_row("RB7", sent)


# ---- 5. the energy table marks a split checkpoint's split -------------------------------------
def test_energy_table_marks_the_checkpoint_split(work, run_sbn):
    code, out, err = run_sbn("energy", "--checkpoint", work / "m.safetensors", "--firing-rate", 0.1)
    assert code == 0, err
    assert "RB2 *" in out and "RB1 *" not in out and "RB1..RB2 run on its device" in out


# ---- 6. a bad plot suffix is refused before the work -------------------------------------------
@pytest.mark.parametrize("command", [["energy", "--firing-rate", "0.1"], ["bits", "--channels", "4"]])
def test_bad_plot_suffix_is_refused_before_the_table(run_sbn, tmp_path, command):
    code, out, err = run_sbn(*command, "--plot", tmp_path / "e.jpg")
    assert code == 1 and out == "" and "end the file name in .png" in err


# ---- 7, 8. messages and options --------------------------------------------------------------
def test_messages_name_what_the_user_gave(work, run_sbn, refused):
    refused("energy", "--firing-rate", 1.5, match="--firing-rate 1.5 must lie in [0, 1]")
    refused("energy", "--firing-rate", "nan", match="--firing-rate nan must lie in [0, 1]")
    assert run_sbn("quantize", work / "export")[0] == 0  # writes device.loihi2.safetensors
    q = work / "export" / "device.loihi2.safetensors"
    refused("energy", "--checkpoint", q, match="a quantisation file written by `sbn quantize`")
    refused(
        "quantize",
        work / "m.safetensors",
        touches=[work],
        match="takes an `sbn export` folder or a device .nir",
    )
    refused("quantize", work / "export" / "device.nir", match="needs --out FILE")


def test_energy_dataset_is_the_training_choice(refused):
    from sbn.cli.energy import energy
    from sbn.data import DATASETS

    option = next(p for p in energy.params if p.name == "dataset")
    assert tuple(option.type.choices) == DATASETS
    refused("energy", "--dataset", "nope", match="Invalid value for '--dataset'")
