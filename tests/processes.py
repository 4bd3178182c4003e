"""What a run leaves behind: processes and shared memory, read from /proc (shared by the
interrupt and cluster tests)."""

from __future__ import annotations

import re
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
