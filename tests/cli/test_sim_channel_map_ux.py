"""`sbn sim`, `sbn channel` and `sbn map` as a newcomer meets them: options bounded and named
as in the other commands, the report's format from the --out suffix, a summary that says
what its figures are, nothing shown that the run did not measure, and mismatched inputs
refused in one line before any work."""

from __future__ import annotations

import json

import pytest

ROUNDING = 1e-9  # sbn.simulation.ROUNDING


def _no_work(monkeypatch):
    """Fail the test if a simulation or a channel sweep starts."""

    def refuse(*args, **kwargs):
        raise AssertionError("work started before the inputs were checked")

    import sbn.cli.sim_fixed
    import sbn.noise_curves
    import sbn.simulation

    monkeypatch.setattr(sbn.simulation, "fan_out", refuse)
    monkeypatch.setattr(sbn.cli.sim_fixed, "run_fixed", refuse)
    monkeypatch.setattr(sbn.noise_curves, "accuracy_under_noise", refuse)


# ---- 1, 11: options as the other commands take them ----
@pytest.mark.parametrize("command", ["sim", "channel"])
def test_a_negative_seed_is_refused_by_click(pristine, refused, monkeypatch, command):
    _no_work(monkeypatch)
    extra = ["--channel", "bsc:1e-3"]
    refused(
        command, pristine / "export", "--seed", "-1", *extra, match="'--seed': -1 is not in the range 0<=x"
    )


@pytest.mark.parametrize("command", ["sim", "channel"])
def test_dataset_is_a_choice_and_T_an_alias(pristine, refused, monkeypatch, command):
    _no_work(monkeypatch)
    refused(
        command, pristine / "export", "--dataset", "mnist", match="'mnist' is not one of 'digits', 'cifar10'"
    )
    # --T reaches the time steps: the export states T = 2, so 3 is refused as --time-steps 3 is
    refused(command, pristine / "export", "--T", "3", match="--time-steps 3: ")


# ---- 2: the format from the --out suffix ----
@pytest.mark.parametrize(
    "args, match",
    [
        (["--out", "{tmp}/s.npz"], "s.npz: the report is JSON, not a numpy file; name it *.json"),
        (["--out", "{tmp}/s.txt"], "s.txt: cannot tell the format from the suffix"),
        (["--format", "json", "--out", "{tmp}/s.csv"], "s.csv: the report is JSON, not a CSV file"),
        (["--format", "table", "--out", "{tmp}/s.json"], "--format table is for the terminal"),
    ],
)
@pytest.mark.parametrize("command", ["sim", "channel", "map"])
def test_an_out_file_that_cannot_hold_the_report(
    pristine, refused, monkeypatch, tmp_path, command, args, match
):
    _no_work(monkeypatch)
    source = pristine / "export" / "device.nir" if command == "map" else pristine / "export"
    extra = ["--target", "loihi2"] if command == "map" else []
    refused(command, source, *extra, *(a.format(tmp=tmp_path) for a in args), touches=[tmp_path], match=match)
    assert list(tmp_path.iterdir()) == []


def test_map_writes_json_to_an_out_json(pristine, run_sbn, tmp_path):
    code, out, err = run_sbn(
        "map", pristine / "export" / "device.nir", "--target", "loihi2", "--out", tmp_path / "m.json"
    )
    assert code == 0, err
    assert out == "" and json.loads((tmp_path / "m.json").read_text())["schema"] == "sbn.map/1"


def test_channel_writes_json_to_an_out_json_and_notes_missing_samples(
    pristine, run_sbn, monkeypatch, tmp_path
):
    """--out c.json alone gives JSON; --samples beyond the test split runs what there is and
    says so, as sbn sim does (the sweep itself is stubbed: only the images it gets count)."""
    import sbn.noise_curves

    seen = []

    def sweep(device, edge, images, labels, **kwargs):
        seen.append(len(images))
        return {"schema": "sbn.channel/1", "samples": len(images)}

    monkeypatch.setattr(sbn.noise_curves, "accuracy_under_noise", sweep)
    code, out, err = run_sbn(
        "channel", pristine / "export", "--samples", "1000", "--out", tmp_path / "c.json"
    )
    assert code == 0, err
    assert seen == [359] and json.loads((tmp_path / "c.json").read_text())["samples"] == 359
    assert "note: digits has 359 test images: running 359, not 1000" in err


# ---- 3, 9: a summary that says what it measured, and only that ----
def test_split_table_labels_its_figures(pristine, run_sbn, tmp_path):
    code, out, err = run_sbn(
        "sim", pristine / "export", "--samples", "2", "--fuse", "graph", "--out", tmp_path / "s.json"
    )
    assert code == 0, err
    report = json.loads((tmp_path / "s.json").read_text())  # JSON, from the suffix alone
    assert report["schema"] == "sbn.sim/2" and report["agreement"]["executor_outputs_max_difference"] == 0.0
    code, out, err = run_sbn("sim", pristine / "export", "--samples", "2", "--fuse", "graph")
    assert code == 0, err
    assert "predictions agree with executor 1.000" in out
    assert "outputs identical to executor yes" in out
    assert "Lava processes device " in out and ", edge " in out and "{" not in out
    assert "pytorch" not in out  # no --checkpoint: nothing to compare with
    assert "wire: codec bitmap, channel none" in out


def test_one_graph_of_a_payload_shows_no_predictions_and_no_wire(pristine, run_sbn):
    device = pristine / "export" / "device.nir"
    code, out, err = run_sbn("sim", device, "--samples", "2", "--fuse", "graph", "--format", "json")
    assert code == 0, err
    assert "class scores: no accuracy or predictions" in err
    report = json.loads(out)
    assert report["wire"] is None and report["bits_on_the_wire"] is None
    assert report["accuracy"] is None and report["agreement"]["executor_predictions"] is None
    assert all(r["prediction"] is None and r["executor"] is None for r in report["results"])
    assert report["agreement"]["executor_outputs_identical"] is True
    code, out, err = run_sbn("sim", device, "--samples", "2", "--fuse", "graph")
    assert code == 0, err
    assert "outputs identical to executor yes" in out
    for absent in ("predictions", "accuracy", "wire:", "lava", "bytes"):
        assert absent not in out, absent


# ---- 4: a portable export's outputs differ from the executor's by rounding only ----
def test_portable_outputs_differ_by_rounding_and_say_so(pristine, run_sbn, tmp_path):
    from sbn.graph import export_checkpoint

    export_checkpoint(pristine / "m.safetensors", tmp_path / "portable", profile="portable")
    code, out, err = run_sbn(
        "sim", tmp_path / "portable", "--samples", "2", "--fuse", "graph", "--format", "json"
    )
    assert code == 0, err
    a = json.loads(out)["agreement"]
    assert a["executor_outputs_identical"] is False and a["payload_identical_to_executor"] is True
    assert 0 < a["executor_outputs_max_difference"] <= ROUNDING
    assert a["executor_predictions"] == 1.0
    assert "note: Lava's outputs differ from the executor's by at most" in err and "float64 rounding" in err


# ---- 5, 6: graphs that cannot read what they are given, refused before any work ----
@pytest.mark.parametrize("command", ["sim", "channel"])
def test_a_graph_that_does_not_take_images(pristine, refused, monkeypatch, command):
    _no_work(monkeypatch)
    edge = pristine / "export" / "edge.nir"
    args = [edge, "--samples", "1"] if command == "sim" else [edge, "--edge", edge]
    line = refused(command, *args)
    if command == "sim":
        assert "edge.nir reads [4, 16, 16]" in line and "digits images are [3, 32, 32]" in line, line
    else:  # the edge graph given as the device: caught at the cut first
        assert "reads [4, 16, 16]" in line and "sends [10]" in line, line


def test_channel_checks_the_cut_naming_both_files(pristine, refused, monkeypatch):
    _no_work(monkeypatch)
    device = pristine / "export" / "device.nir"
    line = refused("channel", device, "--edge", device)
    assert f"the edge graph {device} reads [3, 32, 32]" in line and "sends [4, 16, 16]" in line, line


def test_deterministic_failures_are_not_retried_nor_said_to_be(pristine, run_sbn, monkeypatch):
    """An SbnError fails once and the message says "failed:"; another error is retried and
    the message counts the attempts."""
    import sbn.simulation
    from sbn.errors import SimulationError

    for error, expected in ((SimulationError("bad input"), 1), (RuntimeError("worker lost"), 3)):
        calls = []

        def chunk(c, error=error, calls=calls):
            calls.append(c.start)
            raise error

        monkeypatch.setattr(sbn.simulation, "run_chunk", chunk)
        code, _, err = run_sbn("sim", pristine / "export", "--samples", "2", "--retries", "2")
        assert code == 1 and len(calls) == expected
        tries = "" if expected == 1 else f" after {expected} attempts"
        assert (
            err.strip().splitlines()[-1]
            == f"error: 2 of 2 samples failed{tries}: {type(error).__name__}: {error}"
        )


# ---- 7: where the CIFAR files come from ----
@pytest.mark.parametrize("command", ["sim", "channel"])
def test_missing_cifar_points_at_a_command_that_downloads(pristine, refused, monkeypatch, tmp_path, command):
    _no_work(monkeypatch)
    line = refused(command, pristine / "export", "--dataset", "cifar10", "--data-dir", tmp_path)
    assert f"`sbn train --dataset cifar10 --data-dir {tmp_path} --download`" in line, line
    assert "use --download" not in line


# ---- 8: a rates file of the whole network, read for the device part ----
def test_map_ignores_rates_past_the_cut(pristine, run_sbn, refused, tmp_path):
    whole = {
        f"rb{k}.conv{n}": 0.05 * k for k in range(1, 5) for n in (1, 2, 3)
    }  # as `sbn energy --save-rates`
    (tmp_path / "rates.json").write_text(
        json.dumps({"schema": "sbn.firing-rates/1", "time_steps": 2, "rates": whole})
    )
    device = pristine / "export" / "device.nir"
    args = ["map", device, "--target", "loihi2", "--firing-rate", "0.01", "--format", "json"]
    code, out, err = run_sbn(*args, "--rates", tmp_path / "rates.json")
    assert code == 0, err
    assert (
        f"note: 6 of 12 firing rates in {tmp_path / 'rates.json'} name nodes that are not in {device}" in err
    )
    rates = json.loads(out)["rates"]
    assert rates["rb1.lif1"] == 0.05 and rates["rb2.lif2"] == 0.1  # rb1.conv2, rb2.conv3: the spikes entering
    # rates of nodes past the cut only: a file for another graph, refused
    past = {k: v for k, v in whole.items() if k.startswith(("rb3", "rb4"))}
    (tmp_path / "past.json").write_text(json.dumps(past))
    refused(*args, "--rates", tmp_path / "past.json", match="which is not a node of the graph")


@pytest.mark.parametrize("command", ["sim", "channel", "map"])
def test_out_replaces_only_an_earlier_report(pristine, refused, monkeypatch, tmp_path, command):
    """The rule of `sbn bits`/`sbn energy` (docs: "Reports and their files") holds here too,
    before any work: a rates file named as the report stays as it was."""
    _no_work(monkeypatch)
    rates = tmp_path / "rates.json"
    rates.write_text(json.dumps({"schema": "sbn.firing-rates/1", "rates": {}}))
    source = pristine / "export" / "device.nir" if command == "map" else pristine / "export"
    extra = ["--target", "loihi2"] if command == "map" else []
    refused(
        command,
        source,
        *extra,
        "--out",
        rates,
        touches=[tmp_path],
        match="JSON data of schema 'sbn.firing-rates/1'",
    )
