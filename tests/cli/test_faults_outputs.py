"""Nothing lost (issue 15, items 1-4 and d, i, k): outputs that are inputs under another
spelling, an export folder holding other files, two runs on one output, interrupted and
killed runs, unwritable places and impossible names. Every case runs through the CLI and
checks exit code, one line on stderr and that no input file changed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_run import TINY_MODEL

SBN = Path(sys.executable).parent / "sbn"


def _spellings(work: Path) -> dict[str, Path]:
    """Other names of work/export/device.nir: relative with '..', a symlink, a hard link."""
    device = work / "export" / "device.nir"
    (work / "link.nir").symlink_to(device)
    os.link(device, work / "hard.nir")
    return {
        "dotdot": work / "export" / ".." / "export" / "device.nir",
        "symlink": work / "link.nir",
        "hardlink": work / "hard.nir",
    }


@pytest.mark.parametrize("spelling", ["dotdot", "symlink", "hardlink"])
def test_map_out_that_is_its_graph_is_refused(work, refused, spelling):
    out = _spellings(work)[spelling]
    refused(
        "map",
        work / "export" / "device.nir",
        "--target",
        "loihi2",
        "--out",
        out,
        touches=[work],
        match="is the input",
    )


@pytest.mark.parametrize(
    "command",
    [
        ["energy", "--checkpoint", "{m}", "--firing-rate", "0.1", "--format", "json", "--out", "{m_alias}"],
        ["sim", "{export}", "--out", "{device_alias}"],
        ["quantize", "{export}", "--out", "{device_alias}"],
        ["train", "--out", "{work}/new.safetensors", "--summary", "{work}/./new.safetensors"],
        ["train", "--from", "{backbone}", "--split", "RB2", "--channels", "4", "--out", "{bb_alias}"],
        ["bits", "--config", "{work}/bits.json", "--format", "json", "--out", "{work}/../work/bits.json"],
        [
            "sweep",
            "--backbone",
            "{m}",
            "--splits",
            "RB1",
            "--channels",
            "4",
            "--out",
            "{work}/s",
            "--format",
            "json",
            "--report",
            "{m_alias}",
        ],
    ],
)
def test_every_command_refuses_an_output_that_is_an_input(work, refused, command):
    (work / "m-alias.safetensors").symlink_to(work / "m.safetensors")
    os.link(work / "backbone.safetensors", work / "bb-alias.safetensors")
    (work / "bits.json").write_text("{}")
    names = {
        "m": work / "m.safetensors",
        "m_alias": work / "m-alias.safetensors",
        "backbone": work / "backbone.safetensors",
        "bb_alias": work / "bb-alias.safetensors",
        "export": work / "export",
        "device_alias": work / "export/../export/device.nir",
        "work": work,
    }
    refused(
        *(arg.format(**names) for arg in command), touches=[work], match="which this command reads or writes"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["channel", "{export}", "--samples", "2", "--payloads-out", "{export}/manifest.json"],
        ["channel", "{export}", "--samples", "2", "--format", "json", "--out", "{export}/full.nir"],
        ["quantize", "{export}", "--out", "{export}/full.nir"],
        ["quantize", "{export}", "--target", "loihi2", "--out", "{export}/device.other.safetensors"],
        ["sim", "{export}", "--format", "json", "--out", "{export}/full.nir"],
    ],
    ids=["channel-manifest", "channel-full", "quantize-full", "quantize-other-target", "sim-full"],
)
def test_no_command_writes_over_a_file_of_the_export_it_reads(work, run_sbn, refused, command):
    import dataclasses

    from sbn.targets import get_target, save_target_file

    export = work / "export"
    save_target_file(work / "other.json", dataclasses.replace(get_target("loihi2"), name="other"))
    assert run_sbn("quantize", export, "--target", work / "other.json")[0] == 0  # a second target's file
    assert "device.other.safetensors" in (export / "manifest.json").read_text()
    refused(*(arg.format(export=export) for arg in command), touches=[work], match=str(export))


def test_export_into_a_folder_with_other_files_deletes_nothing(work, refused):
    """An older export folder that also holds the only copy of the checkpoint and notes."""
    folder = work / "export"
    os.replace(work / "m.safetensors", folder / "my_only_copy.safetensors")
    (folder / "NOTES.md").write_text("results of last week\n")
    line = refused(
        "export",
        folder / "my_only_copy.safetensors",
        "--out",
        folder,
        touches=[folder],
        match="holds files an export did not write",
    )
    assert "NOTES.md" in line and "my_only_copy.safetensors" in line


def test_export_replaces_what_an_earlier_export_and_quantize_wrote(work, run_sbn):
    code, _, err = run_sbn("quantize", work / "export")
    assert code == 0, err
    assert (work / "export" / "device.loihi2.safetensors").is_file()
    code, _, err = run_sbn("export", work / "m.safetensors", "--out", work / "export")
    assert code == 0, err
    assert sorted(p.name for p in (work / "export").iterdir()) == [
        "device.nir",
        "edge.nir",
        "full.nir",
        "manifest.json",
    ]
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no lock, no temporaries


def _hold(path: Path, command: str) -> subprocess.Popen:
    """Another process holding ``path``'s output lock until it is killed."""
    code = (
        "import sys, time\nfrom sbn.output_lock import OutputLock\n"
        f"lock = OutputLock({str(path)!r}, {command!r}, '--out')\nlock.acquire()\n"
        "print('held', flush=True)\ntime.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize(
    "command",
    [
        [
            "train",
            "--out",
            "{out}",
            "--epochs",
            "1",
            "--train-samples",
            "8",
            "--test-samples",
            "8",
            *TINY_MODEL,
            "--T",
            "1",
        ],
        ["sweep", "--backbone", "{backbone}", "--splits", "RB1", "--channels", "4", "--out", "{out}"],
        ["export", "{m}", "--out", "{out}"],
    ],
)
def test_a_second_run_on_a_held_output_says_who_holds_it(work, command):
    out = work / ("run" if command[0] != "train" else "run.safetensors")
    holder = _hold(out, "sbn train --seed 1")
    try:
        args = [
            a.format(out=out, backbone=work / "backbone.safetensors", m=work / "m.safetensors")
            for a in command
        ]
        second = subprocess.run([str(SBN), *args], capture_output=True, text=True, timeout=300)
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == 1, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert f"is in use by another run (pid {holder.pid}, `sbn train --seed 1`" in lines[0]
    assert not out.exists()


def test_two_concurrent_trainings_one_fails_at_once(work):
    """The issue's race: two `sbn train` on one --out 0.5 s apart; exactly one writes it."""
    args = [
        "train",
        "--out",
        work / "c.safetensors",
        *TINY_MODEL,
        "--T",
        "1",
        "--epochs",
        "1",
        "--train-samples",
        "64",
        "--test-samples",
        "16",
    ]
    first = subprocess.Popen(
        [str(SBN), *map(str, args), "--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lock_seen = _wait_for(lambda: [p for p in work.iterdir() if p.name.endswith(".lock")], 120)
        assert lock_seen, "the first run never took its lock"
        second = subprocess.run(
            [str(SBN), *map(str, args), "--seed", "2"], capture_output=True, text=True, timeout=300
        )
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 1 and f"pid {first.pid}" in second.stderr
    from sbn import checkpoint as ckpt_io

    assert ckpt_io.load(work / "c.safetensors").training["settings"]["seed"] == 1


def _wait_for(condition, seconds: float):
    end = time.time() + seconds
    while time.time() < end:
        found = condition()
        if found:
            return found
        time.sleep(0.01)
    return None


def _big_checkpoint(folder: Path) -> Path:
    """A backbone wide enough that its export takes a moment to write (to interrupt it)."""
    import torch

    from sbn import checkpoint as ckpt_io
    from sbn.models import ModelConfig, build_model

    config = ModelConfig(width=0.5, layers=(1, 1, 1, 1), num_classes=10, time_steps=1)
    torch.manual_seed(0)
    path = folder / "wide.safetensors"
    ckpt_io.save(path, ckpt_io.Checkpoint(config=config, model_state=build_model(config).state_dict()))
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_export_leaves_no_temporary_folder(tmp_path, sig):
    checkpoint = _big_checkpoint(tmp_path)
    out = tmp_path / "exp"

    def temporaries():
        return [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    for _attempt in range(3):
        run = subprocess.Popen(
            [str(SBN), "export", str(checkpoint), "--out", str(out), "--split", "RB2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert _wait_for(temporaries, 120) is not None, "the export never wrote its temporary folder"
        run.send_signal(signal.SIGSTOP)  # frozen while its temporary folder exists
        if temporaries():
            break
        run.send_signal(signal.SIGCONT)  # it renamed the folder in between: once more
        run.communicate(timeout=120)
        shutil.rmtree(out)
    else:
        pytest.fail("the export finished three times before it could be interrupted")
    run.send_signal(sig)  # delivered as it resumes, while the temporary folder is there
    run.send_signal(signal.SIGCONT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.safetensors"]


def test_temporaries_of_a_killed_run_are_swept_by_the_next(work, run_sbn):
    """kill -9 leaves a temporary folder and a lock file; the next run removes the one
    (its owner is gone) and takes the other; a live process's temporary stays."""
    from sbn.fileio import hidden_sibling

    out = work / "exp2"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    tag = hidden_sibling(out, "").name
    host = _host()
    stale = work / f"{tag}{host}-{dead}.abc123.tmp"
    (stale / "full.nir").parent.mkdir()
    (stale / "full.nir").write_text("half written")
    alive = work / f"{tag}{host}-{os.getpid()}.def456.tmp"
    alive.mkdir()
    hidden_sibling(out, "lock").write_text(json.dumps({"pid": int(dead), "command": "sbn export"}))
    code, _, err = run_sbn("export", work / "m.safetensors", "--out", out)
    assert code == 0, err
    assert not stale.exists() and alive.exists()
    assert not hidden_sibling(out, "lock").exists()


def _host() -> str:
    from sbn import fileio

    return fileio._HOST


def test_names_of_255_bytes_are_written_through_short_temporaries(work, run_sbn):
    name = "b" * 250 + ".json"
    code, _, err = run_sbn("bits", "--channels", "4", "--split", "RB3", "--out", work / name)
    assert code == 0, err
    assert json.loads((work / name).read_text())["schema"].startswith("sbn.bits")


@pytest.mark.parametrize(
    "args",
    [
        ["bits", "--channels", "4", "--out", "{long}.json"],
        ["export", "{long}.safetensors", "--out", "{work}/e"],
        ["map", "{long}.nir", "--target", "loihi2"],
    ],
)
def test_paths_longer_than_the_system_takes_are_one_line(work, refused, args):
    long = str(work / "/".join(["d" * 200] * 25))  # 5,000 characters
    refused(*(a.format(long=long, work=work) for a in args), touches=[work])


@pytest.mark.parametrize(
    "args",
    [
        ["bits", "--channels", "4", "--out", "/sys/sbn-test/bits.json"],
        ["energy", "--firing-rate", "0.1", "--out", "/sys/sbn-test/e.json"],
        ["export", "{m}", "--out", "/sys/sbn-test/e"],
        ["map", "{export}/device.nir", "--target", "loihi2", "--out", "/sys/sbn-test/m.txt"],
        ["train", "--out", "/sys/sbn-test/c.safetensors", "--epochs", "50"],
        ["demo", "--out", "/sys/sbn-test/demo"],
        ["sweep", "--backbone", "{m}", "--splits", "RB1", "--channels", "4", "--out", "/sys/sbn-test/s"],
    ],
)
def test_an_unwritable_out_fails_before_any_work(work, refused, args):
    """/sys refuses new files even to root: the place every command must check first."""
    start = time.time()
    refused(
        *(a.format(m=work / "m.safetensors", export=work / "export") for a in args),
        touches=[work],
        match="/sys/sbn-test",
    )
    assert time.time() - start < 60  # train --epochs 50 would take far longer


def test_a_full_disk_is_one_line_and_leaves_no_temporary(work, run_sbn, monkeypatch):
    import errno

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_text", full)
    code, _, err = run_sbn("bits", "--channels", "4", "--out", work / "bits.json")
    monkeypatch.undo()
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"error: {work / 'bits.json'}: not written (")
    assert lines[0].endswith(": No space left on device)")
    assert not [p for p in work.iterdir() if p.name.startswith(".")]


def test_an_export_onto_a_full_disk_is_one_line_and_leaves_nothing(work, run_sbn, monkeypatch):
    """h5py writing to a full disk printed hundreds of destructor tracebacks and once crashed:
    the NIR file is made in memory and the disk sees one plain write."""
    import errno

    import sbn.graph.io

    class FullDisk:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(sbn.graph.io, "open", FullDisk, raising=False)
    code, _, err = run_sbn("export", work / "m.safetensors", "--out", work / "again")
    monkeypatch.undo()
    assert code == 1 and err == f"error: {work / 'again'}/full.nir: not written (No space left on device)\n"
    assert sorted(p.name for p in work.iterdir()) == ["backbone.safetensors", "export", "m.safetensors"]
