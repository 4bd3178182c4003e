"""Issue 15, items 12, 14 and 15: interrupts during a Lava run.

12: Ctrl-C while Lava forks its processes used to be swallowed (the signal's handler ran
inside one of fork's callbacks, where CPython ignores exceptions) and the run ended with exit
code 0. 14: Ctrl-C to the whole process group during Lava's start-up hung, then printed a
multiprocessing traceback and a resource-tracker warning about 34 leaked shared-memory
segments. 15: interrupting ``--workers`` runs left those segments in /dev/shm for good, and
SIGTERM printed Ray's stack dump and exited 1. Each must end with exit code 130, the one line
``interrupted``, no process and no shared-memory segment of the run left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import alive, shm_segments

SBN = Path(sys.executable).parent / "sbn"


def _children(pid: int) -> set[int]:
    from sbn.targets.lava.runtime import child_pids

    return child_pids(pid)


#: Lava processes started when the signal is sent (of about 13 for this export)
FORKED = 3


def test_ctrl_c_while_lava_forks_stops_the_run(work):
    run = subprocess.Popen(
        [str(SBN), "sim", str(work / "export"), "--samples", "6", "--batch-size", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[int] = set()
    deadline = time.time() + 300
    while len(seen) < FORKED and run.poll() is None and time.time() < deadline:
        seen |= _children(run.pid)
        time.sleep(0.01)
    os.kill(run.pid, signal.SIGINT)  # to the parent only, while Lava is starting its processes
    _, err = run.communicate(timeout=300)
    assert run.returncode == 130, err
    assert "interrupted" in err.splitlines()
    time.sleep(1)
    assert not alive(seen)


def _interrupt_during_start_up(args, sig, *, group: bool, lava_processes: int):
    """Run ``sbn ARGS``; once ``lava_processes`` descendants exist and Lava has made its
    shared memory, send ``sig`` (to the process group or to sbn only); return (exit code,
    stderr lines that are not blank, the pids seen, the segments seen)."""
    run = subprocess.Popen(
        [str(SBN), *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a command
    )
    pids: set[int] = set()
    segments: set[str] = set()
    try:
        deadline = time.time() + 300
        while (len(pids) < lava_processes or not segments) and time.time() < deadline:
            assert run.poll() is None, "the run ended before it could be interrupted"
            pids |= _children(run.pid)
            segments |= shm_segments(pids | {run.pid})
            time.sleep(0.02)
        (os.killpg if group else os.kill)(run.pid, sig)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    return run.returncode, [line for line in err.splitlines() if line.strip()], pids, segments


def _gone(pids, segments, seconds: float = 30) -> tuple[list, list]:
    """The pids still alive and the segments still in /dev/shm after at most ``seconds``."""
    deadline = time.time() + seconds
    while True:
        running = alive(pids)
        left = [s for s in segments if Path("/dev/shm", s).exists()]
        if not (running or left) or time.time() > deadline:
            return running, left
        time.sleep(0.2)


def test_ctrl_c_to_the_process_group_during_lava_start_up(work):
    code, err, pids, segments = _interrupt_during_start_up(
        ["sim", work / "export", "--samples", "6", "--batch-size", "2"],
        signal.SIGINT,
        group=True,
        lava_processes=FORKED,
    )
    assert (code, err) == (130, ["interrupted"])
    assert segments, "the test interrupted before Lava made its shared memory"
    assert _gone(pids, segments) == ([], [])


#: a Ray instance (gcs, raylet, a worker and its helpers) plus the worker's first Lava processes
RAY_AND_LAVA = 12


@pytest.mark.parametrize(
    "sig, group", [(signal.SIGTERM, False), (signal.SIGINT, True)], ids=["sigterm", "ctrl-c-group"]
)
def test_interrupting_a_run_on_ray_workers_leaves_nothing(work, sig, group):
    code, err, pids, segments = _interrupt_during_start_up(
        ["sim", work / "export", "--samples", "4", "--batch-size", "2", "--workers", "1"],
        sig,
        group=group,
        lava_processes=RAY_AND_LAVA,
    )
    assert (code, err) == (130, ["interrupted"])  # not Ray's stack dump, not exit 1
    assert segments, "the test interrupted before Lava made its shared memory"
    assert _gone(pids, segments) == ([], [])
