"""One run at a time per output: an exclusive, non-blocking lock beside the output path.

Two runs writing one checkpoint or one sweep folder would each believe they succeeded while
the file holds only one of them. ``OutputLock(path, command)`` takes a ``flock`` on a hidden
file beside ``path`` (``fileio.hidden_sibling(path, "lock")``) and records in it who holds
it; a second run fails at once with an ``OutputError`` that says which process and command
hold the output. The kernel drops the lock when its holder dies (``kill -9`` included), so a
lock is never stale; the holder removes the file when it is done.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from sbn.errors import OutputError
from sbn.fileio import describe_os_error, hidden_sibling


class OutputLock:
    """Exclusive claim of ``path`` by this process for ``command`` (a context manager)."""

    def __init__(self, path: str | os.PathLike, command: str, flag: str = "output") -> None:
        self.path = Path(path)
        self.command = command
        self.flag = flag
        self.lock_file = hidden_sibling(self.path, "lock")
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            while self._fd is None:
                fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise OutputError(self._busy(holder)) from None
                if _same_inode(fd, self.lock_file):
                    self._fd = fd
                else:  # the previous holder removed the file between our open and flock
                    os.close(fd)
            os.ftruncate(self._fd, 0)
            os.write(
                self._fd,
                json.dumps({"pid": os.getpid(), "command": self.command, "since": time.time()}).encode(),
            )
        except OSError as exc:
            self.release()
            raise OutputError(
                f"{self.flag} {self.path}: cannot write there ({describe_os_error(exc)})"
            ) from None

    def release(self) -> None:
        if self._fd is None:
            return
        # unlinked while still locked: a waiting run then sees a new inode and retries
        self.lock_file.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def _busy(self, holder: dict) -> str:
        who = f"pid {holder.get('pid', '?')}"
        if holder.get("command"):
            who += f", `{holder['command']}`"
        if isinstance(holder.get("since"), (int, float)):
            who += time.strftime(", since %Y-%m-%d %H:%M:%S UTC", time.gmtime(holder["since"]))
        return (
            f"{self.flag} {self.path} is in use by another run ({who}); wait for it to "
            f"finish or choose another {self.flag}"
        )


def _read_holder(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _same_inode(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
