"""What ``sbn train`` and ``sbn demo`` tell a newcomer: the quantisation-aware fine-tune's
table, a resumed run that had nothing left to do, ``--time-steps`` as the other name of
``--T``, and the demo refusing a target or a folder it cannot use before any work."""

from __future__ import annotations

import json

import pytest

TINY = ["--layers", "1,1,1,1", "--width", "0.0625", "--epochs", "1", "--train-samples", "16"]


def table_rows(out: str) -> dict[str, str]:
    """The rows of a two-column rich table: first cell -> second cell."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    return rows


def test_a_finished_run_resumed_says_so_and_trains_nothing(run_sbn, tmp_path):
    out = tmp_path / "bb.safetensors"
    args = ["train", "--out", out, *TINY, "--test-samples", "8", "--time-steps", "2"]
    code, _, err = run_sbn(*args, "--summary", tmp_path / "first.json")
    assert code == 0, err
    assert json.loads((tmp_path / "first.json").read_text())["config"]["time_steps"] == 2  # --T's value
    before = out.read_bytes()
    code, stdout, err = run_sbn(*args, "--resume")
    assert code == 0, err
    assert err.splitlines() == [f"note: {out} already trained for 1 of 1 epochs; nothing to do"]
    assert table_rows(stdout)["epochs"] == "1"
    assert out.read_bytes() == before


def test_the_quantisation_aware_summary_table_adds_its_figures(work, run_sbn, tmp_path):
    out = tmp_path / "q.safetensors"
    code, stdout, err = run_sbn(
        "train", "--from", work / "m.safetensors", "--quantize", "loihi2", "--epochs", "1",
        "--train-samples", "16", "--test-samples", "8", "--out", out, "--summary", tmp_path / "q.json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads((tmp_path / "q.json").read_text())
    rows = table_rows(stdout)
    assert rows["quantised for"] == "loihi2"
    assert rows["float accuracy (before)"] == f"{summary['float_accuracy']:.2%}"
    assert rows["rounded, before the fine-tune"] == f"{summary['quantized_accuracy_before']:.2%}"
    assert rows["rounded, after (test accuracy)"].startswith(f"{summary['accuracy']:.2%} (best ")
    assert "test accuracy" not in rows  # the plain row would not say it is rounded


def test_time_steps_is_another_name_of_t(work, refused):
    from sbn.cli.demo import demo
    from sbn.cli.sweep import sweep
    from sbn.cli.train import train

    for command, required in ((train, ["--out", "x.safetensors"]), (sweep, ["--out", "s"]), (demo, [])):
        ctx = command.make_context(command.name, [*required, "--time-steps", "2"])
        assert ctx.params["time_steps"] in (2, "2"), command.name
        option = next(p for p in command.params if p.name == "time_steps")
        assert option.opts == ["--T", "--time-steps"]  # both in --help
    refused(
        "train", "--from", work / "m.safetensors", "--quantize", "loihi2", "--time-steps", "2",
        "--out", work / "q.safetensors", touches=[work], match="--T/--time-steps comes from the checkpoint",
    )  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--target", "rolls"],
            "--target rolls: rolls states no fixed-point format (the fixed-point run needs one); "
            "the demo runs on loihi2 (or a .toml/.json target file",
        ),
        (["--width", "1.0", "--split", "RB1"], "the demo model's edge half does not fit loihi2 ("),
    ],
)
def test_demo_refuses_a_target_a_step_cannot_use_before_any_work(refused, tmp_path, args, message):
    line = refused("demo", "--out", tmp_path / "d", *args, match=message)
    assert "--chips" not in line  # an option the demo does not have
    assert not (tmp_path / "d").exists()


def test_demo_refuses_a_folder_that_is_not_its_own(work, refused):
    export = work / "export"  # an sbn export folder: manifest.json, graphs
    refused("demo", "--out", export, touches=[work], match=f"--out {export} is not a demo folder")


def test_demo_claims_its_folder_before_the_first_step(run_sbn, monkeypatch, tmp_path):
    """An empty folder is taken, and marked as the demo's at once: a first run stopped
    before any step finished is resumed, not refused, the next time."""
    import sbn.demo
    from sbn.demo import check_out

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sbn.demo, "load_dataset", stop)  # the first work the demo does
    out = tmp_path / "d"
    out.mkdir()
    code, _, err = run_sbn("demo", "--out", out, "--width", "0.0625")
    assert code == 130, err
    (out / "backbone.safetensors").write_bytes(b"an epoch's checkpoint")  # as training leaves it
    check_out(out, fresh=False)  # an earlier demo run: accepted
    (out / "stamps.json").unlink()
    with pytest.raises(sbn.demo.ConfigError, match="is not a demo folder"):
        check_out(out, fresh=False)
