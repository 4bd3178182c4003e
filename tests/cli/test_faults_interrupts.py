"""Issue 15, item 12: Ctrl-C while Lava forks its processes used to be swallowed (the signal's
handler ran inside one of fork's callbacks, where CPython ignores exceptions) and the run
ended with exit code 0. It must stop the run: exit code 130, ``interrupted``, no child left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    assert not [p for p in seen if Path(f"/proc/{p}").exists() and _state(p) != "Z"]


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "Z"
    return stat[stat.rfind(")") + 2 :].split()[0]
