"""Die with the parent process (Linux): a child started for a job that its parent owns
(a trial's training rank) must not outlive that parent.

Only the standard library, so that a child can arm this first thing, before the seconds
its own imports take on a busy machine:

    python -c "from sbn.parent_death import die_with; die_with(PID); ..."
"""

from __future__ import annotations

import contextlib
import os
import signal

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with(parent: int) -> None:
    """Get SIGKILL when ``parent`` dies (the kernel's PR_SET_PDEATHSIG); exit at once if it
    has died already (this process was then handed to another parent)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)
