"""A ledger of the shared-memory segments that local Ray workers create, and a reaper that
unlinks what killed workers leave in /dev/shm.

A Lava run unlinks its segments in a ``finally`` block (``sbn.targets.lava.runtime``); a
worker killed before that block ends cannot. When the whole process group gets SIGTERM or
Ctrl-C, Ray's raylet dies with it and takes its workers down together with their children,
Python's resource tracker among them, which would otherwise have unlinked the segments at
the worker's death: about 1 run in 10 left a worker's ~19 segments in /dev/shm for good.
The driver cannot be relied on to clean up either: once the raylet is gone, Ray's core worker
may end the driver process at once ("The connection to the plasma store is failed.
Terminate the process."), with no ``finally`` run.

So the driver that starts a local Ray instance opens a ledger: a folder named in the
environment that its workers inherit, where each worker appends the name of every segment
it registers to a file of its own (named by its pid). With the ledger starts a reaper, a
small process in a session of its own, out of reach of signals to the process group, that
waits for the driver to close the ledger or to die, then for the processes that wrote to it
to be gone, and unlinks whatever it lists that is still in /dev/shm.

    with segment_ledger.opened():               # in the driver, around ray.init
        ...start Ray, run tasks, shut Ray down...
    # on leaving, the reaper has unlinked what is left and removed the folder

    segment_ledger.note("psm_1234abcd")         # in a worker: a no-op without a ledger
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

#: the environment variable that names the ledger's folder
LEDGER_ENV = "SBN_SEGMENT_LEDGER"
#: how long the reaper waits for the ledger's writers to exit before it unlinks anyway
WRITERS_GRACE_S = 10.0
#: how long a closing driver waits for the reaper to finish
REAPER_TIMEOUT_S = WRITERS_GRACE_S + 10.0


def note(name: str) -> None:
    """Add a segment this process created to the ledger named in the environment, if any.

    One ``write`` with ``O_APPEND`` per name: whole lines even if the process dies next.
    """
    folder = os.environ.get(LEDGER_ENV)
    if not folder:
        return
    try:
        fd = os.open(Path(folder, str(os.getpid())), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:  # the ledger was reclaimed already: nobody would read it
        return
    try:
        os.write(fd, f"{name.lstrip('/')}\n".encode())
    finally:
        os.close(fd)


@contextlib.contextmanager
def opened(environ: dict[str, str] | None = None) -> Iterator[Path]:
    """A new ledger and its reaper; the ledger is named in ``environ`` (default
    ``os.environ``) while the block runs, so processes started in the block inherit it.
    Leaving the block (or this process dying in it) lets the reaper reclaim; a normal exit
    waits for it."""
    environ = os.environ if environ is None else environ
    folder = Path(tempfile.mkdtemp(prefix="sbn-segments-"))
    try:
        reaper = subprocess.Popen(
            [sys.executable, "-m", "sbn.segment_ledger", str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,  # whoever reads this process's output to its end need not wait
            start_new_session=True,  # a signal to this process group does not reach it
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    before = environ.get(LEDGER_ENV)
    environ[LEDGER_ENV] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            environ.pop(LEDGER_ENV, None)
        else:
            environ[LEDGER_ENV] = before
        with contextlib.suppress(OSError):
            # the reaper's cue: a line, for a child forked meanwhile holds the pipe open;
            # this process dying closes it, which is the cue too
            reaper.stdin.write(b"closed\n")
            reaper.stdin.close()
        try:
            reaper.wait(REAPER_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # it goes on alone; nothing here depends on it
            pass


def reap(folder: Path, grace_s: float = WRITERS_GRACE_S, driver: int | None = None) -> list[str]:
    """Wait (at most ``grace_s``) for the processes that wrote to the ledger to exit, unlink
    the segments it lists that are left, remove the folder; the names unlinked. The
    ``driver``'s own segments are its own run's to unlink: it is not waited for."""
    deadline = time.monotonic() + grace_s
    while _writers_alive(folder, driver) and time.monotonic() < deadline:
        time.sleep(0.1)
    unlinked = unlink_segments(listed(folder))
    shutil.rmtree(folder, ignore_errors=True)
    return unlinked


def _writers_alive(folder: Path, driver: int | None) -> bool:
    pids = {int(f.name) for f in Path(folder).glob("*") if f.name.isdigit()} - {driver}
    return any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now: the writer is gone
        return False
    return True


def listed(folder: Path) -> list[str]:
    """The segment names in the ledger at ``folder``, each once, in the order written."""
    names: dict[str, None] = {}
    for file in sorted(Path(folder).glob("*")):
        with contextlib.suppress(OSError):
            names.update(dict.fromkeys(line for line in file.read_text().splitlines() if line))
    return list(names)


def unlink_segments(names: Iterable[str]) -> list[str]:
    """Unlink each named shared-memory segment that still exists; the names unlinked."""
    from multiprocessing.shared_memory import SharedMemory

    unlinked = []
    for name in dict.fromkeys(names):  # a copy: attaching registers the name again
        try:
            segment = SharedMemory(name=name)
        except (OSError, ValueError):  # FileNotFoundError: unlinked already
            continue
        segment.close()
        with contextlib.suppress(OSError):
            segment.unlink()  # also takes it off this process's resource tracker
            unlinked.append(name)
    return unlinked


def _reaper_main(argv: list[str]) -> None:
    """``python -m sbn.segment_ledger FOLDER``: wait for a line or the end of stdin, then ``reap``."""
    import signal

    driver = os.getppid()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # it must outlive the driver's end
        signal.signal(sig, signal.SIG_IGN)
    sys.stdin.buffer.readline()
    reap(Path(argv[0]), driver=driver)


if __name__ == "__main__":
    _reaper_main(sys.argv[1:])
