"""What a run leaves behind: processes and shared memory, read from /proc (shared by the
interrupt and cluster tests)."""

from __future__ import annotations

import re
import time
from pathlib import Path


def shm_segments(pids) -> set[str]:
    """The /dev/shm segments (Lava's ``psm_*`` message buffers) mapped by ``pids``."""
    found = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        found |= set(re.findall(r"/dev/shm/(psm_\w+)", maps))
    return found


def alive(pids) -> list[int]:
    """Those of ``pids`` still running (a zombie has ended: only its exit code is left)."""
    return [p for p in pids if _state(p) != "Z"]


def wait_gone(pids, seconds: float = 15) -> list[int]:
    """The pids still alive after at most ``seconds``."""
    deadline = time.time() + seconds
    while (left := alive(pids)) and time.time() < deadline:
        time.sleep(0.2)
    return left


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "Z"
    return stat[stat.rfind(")") + 2 :].split()[0]
