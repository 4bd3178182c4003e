"""``sbn sweep`` through the installed ``sbn`` script: a tiny grid on two Ray workers, the
chosen checkpoint through ``sbn export``, re-selection on resume, one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SBN = Path(sys.executable).parent / "sbn"
QUICK = ["--epochs", "1", "--train-samples", "64", "--test-samples", "32"]


def sbn(*args, cwd=None):
    return subprocess.run([str(SBN), *map(str, args)], capture_output=True, text=True, timeout=400, cwd=cwd)


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-sweep") / "backbone.safetensors"
    done = sbn("train", "--out", path, "--layers", "1,1,1,1", "--width", "0.0625", "--T", "2", *QUICK)
    assert done.returncode == 0, done.stderr
    return path


def test_sweep_on_ray_export_and_reselect(backbone, tmp_path):
    out = tmp_path / "sweep"
    grid = tmp_path / "grid.toml"
    # RB4 of the reduced model is 4x4: stride 3 cannot divide it, so that trial fails
    grid.write_text(
        f'schema = "sbn.sweep-grid/1"\nbackbone = "{backbone}"\nsplits = ["RB4"]\n'
        'channels = [4]\nstrides = [1, 3]\nstrides_everywhere = true\nT = [2]\n'
        '[train]\nepochs = 1\ntrain_samples = 64\ntest_samples = 32\n'
    )
    done = sbn(
        "sweep",
        "--grid",
        grid,
        "--workers",
        "2",
        "--out",
        out,
        "--format",
        "csv",
        "--plot",
        tmp_path / "sweep.png",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# sbn.sweep/1; produced by sbn 0.1.0"
    assert lines[2].startswith("RB4,2,4,1,128,512,75.0,")  # 4*4*4*2 bits; BottleNet++ *8/2
    assert "trials" in done.stderr and "1 ok, 1 failed" in done.stderr  # the progress bar
    assert "RB4-c4-s3-T2: ConfigError: stride 3 does not divide the 4x4 map after RB4" in done.stderr
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    command = summary["chosen"]["export_command"]
    assert command in done.stderr  # printed, ready to paste
    exported = subprocess.run(
        [str(SBN), *command.split()[1:], "--format", "json"], capture_output=True, text=True, timeout=300
    )
    assert exported.returncode == 0, exported.stderr
    manifest = json.loads(exported.stdout)
    assert manifest["split"] == "RB4" and manifest["bits_per_sample"] == 128

    # resuming with the stored plan: nothing to train (the bad config is not retried),
    # so no Ray start; only a new selection
    again = sbn("sweep", "--out", out, "--resume", "--objective", "bits", "--format", "json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["selection"]["objective"] == "bits" and result["chosen"]["trial"] == "RB4-c4-s1-T2"
    assert "1 finished trial(s) kept" in again.stderr and "not rerun" in again.stderr
    report = tmp_path / "sweep.md"
    md = sbn("sweep", "--out", out, "--resume", "--report", report)
    assert md.returncode == 0 and md.stdout == "" and "| RB4 | 2 | 4 | 1 | 128 |" in report.read_text()
    table = sbn("sweep", "--out", out, "--resume")
    assert table.returncode == 0, table.stderr
    assert "choice per split point" in table.stdout and "RB4-c4-s1-T2" in table.stdout
    assert f"export: {command}" in table.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--splits", "RB4"], "the sweep needs --channels (e.g. 4,8,16)"),
        (["--channels", "4"], "the sweep needs --splits"),
        (["--splits", "RB9", "--channels", "4"], "unknown split 'RB9': valid splits are RB1..RB4"),
        (["--splits", "RB1", "--channels", "4,x"], "channels must be comma-separated integers"),
        (["--splits", "RB1", "--channels", "4", "--strides", "2"], "RB1 has no trials"),
        (
            ["--splits", "RB1", "--channels", "4", "--budget", "5"],
            "--relaxed-budget (4.0) must be >= --budget (5.0)",
        ),
        (["--splits", "RB1", "--channels", "4", "--budget", "-1"], "-1.0 is not in the range x>=0.0"),
        (["--splits", "RB1", "--channels", "4", "--plot", "x.gif"], "cannot tell the plot format"),
        (["--splits", "RB1", "--channels", "4", "--T", "9"], "T must be in 1..8"),
        (["--splits", "RB1", "--channels", "4", "--workers", "-1"], "Invalid value for '--workers'"),
        (
            ["--splits", "RB1", "--channels", "4", "--gpus-per-trial", "1.5"],
            "--gpus-per-trial 1.5: a trial shares one GPU (a fraction below 1: 0.5 puts two "
            "trials on it) or trains on whole GPUs (1, 2, 3, ...)",
        ),
        (
            ["--splits", "RB1", "--channels", "4", "--gpus-per-trial", "2", "--device", "cuda:1"],
            "--device cuda:1 with --gpus-per-trial: Ray shows each trial only the GPUs it gave it",
        ),
        (
            ["--splits", "RB1", "--channels", "4", "--gpus-per-trial", "1", "--workers", "0"],
            "with --workers 0 the trials run in this process on --device",
        ),
        (
            ["--splits", "RB1", "--channels", "4", "--gpus-per-trial", "1", "--device", "cpu"],
            "--gpus-per-trial with --device cpu",
        ),
        (["--splits", "RB1", "--channels", "4", "--device", "tpu"], "unknown device 'tpu'"),
        (
            [
                "--splits",
                "RB1",
                "--channels",
                "4",
                "--precision",
                "fp16",
                "--workers",
                "0",
                "--device",
                "cpu",
            ],
            "--precision fp16 cannot run on cpu",
        ),
    ],
)
def test_bad_arguments_one_line(backbone, tmp_path, args, message, capsys):
    # in process through sbn.cli.run, the script's own error path (a subprocess per case
    # would cost seconds of imports each; the script itself is exercised just below)
    from sbn.cli import cli, run

    with pytest.raises(SystemExit) as exited:
        run(cli, ["sweep", "--backbone", str(backbone), "--out", str(tmp_path / "s"), *args])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "s").exists()


def test_existing_sweep_needs_resume(backbone, tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "unrelated.txt").write_text("x")
    result = sbn("sweep", "--backbone", backbone, "--splits", "RB1", "--channels", "4", "--out", out)
    assert result.returncode == 1
    assert result.stderr == f"error: {out} exists and is not a sweep folder: choose another --out\n"


def test_help_does_not_start_ray():
    probe = (
        "import sys; from sbn.cli import cli\n"
        "for args in (['--help'], ['sweep', '--help']):\n"
        "    try: cli.main(args, standalone_mode=False)\n"
        "    except SystemExit: pass\n"
        "print('ray' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "  sweep " in result.stdout and "--strides-everywhere" in result.stdout
    assert result.stdout.strip().endswith("False")


@pytest.mark.slow
def test_ctrl_c_on_ray_then_resume(backbone, tmp_path):
    """A real SIGINT to a running sweep on two Ray workers: exit 130, finished trials kept;
    --resume trains only what is missing."""
    import signal
    import time

    out = tmp_path / "sweep"
    args = [
        "sweep",
        "--backbone",
        backbone,
        "--splits",
        "RB2,RB3,RB4",
        "--channels",
        "4,8",
        "--strides",
        "1",
        "--T",
        "2",
        "--epochs",
        "2",
        "--train-samples",
        "128",
        "--test-samples",
        "32",
        "--workers",
        "2",
        "--out",
        out,
        "--format",
        "json",
    ]
    proc = subprocess.Popen(
        [str(SBN), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 300
    while not list((out / "trials").glob("*.json")) if (out / "trials").exists() else True:
        assert time.time() < deadline and proc.poll() is None, "no trial finished"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.rstrip().endswith(("interrupted", "aborted"))  # click reports Ctrl-C as an abort
    done = {f.name: f.stat().st_mtime_ns for f in (out / "trials").glob("*.json")}
    assert 1 <= len(done) < 6

    resumed = sbn("sweep", "--out", out, "--resume", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["trials"] == {"planned": 6, "finished": 6, "failed": 0, "pending": 0}
    assert f"{len(done)} finished trial(s) kept" in resumed.stderr
    assert {n: (out / "trials" / n).stat().st_mtime_ns for n in done} == done
