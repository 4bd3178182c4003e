"""Ctrl-C and SIGTERM as one ``KeyboardInterrupt`` in this process, and never lost to a fork.

``interrupts_raise()`` installs, for the duration of a ``with`` block, a handler of SIGINT and
SIGTERM that raises ``KeyboardInterrupt`` in the process that installed it, so that
``finally`` blocks run (temporary files removed, locks released, Lava runtimes stopped).

Two things go wrong without it when Lava forks its processes:

* A signal whose Python handler happens to run inside one of ``os.fork``'s callbacks (logging
  registers some) is swallowed: CPython reports an exception raised there as "ignored" and
  goes on, so the run ends with exit code 0 (or waits for ever on children the signal
  killed). Here a signal arriving while a fork is under way is held back, and sent again a
  moment after the fork, when all its callbacks are done (also those registered after these).
* A handler that runs where CPython ignores exceptions (a weakref callback or a ``__del__``
  run by the garbage collector) is swallowed the same way, with "Exception ignored in" on
  stderr: the signal is sent again a moment later instead (``sys.unraisablehook``).
* Forked children inherit the handler: the runtime's SIGTERM to a leftover process, or a
  Ctrl-C to the whole process group, printed a traceback from every child. Here a child
  receiving the signal dies of it as it would without Python's handler, silently.
"""

from __future__ import annotations

import contextlib
import logging  # noqa: F401 - its fork callbacks must be registered before ours (below)
import os
import signal
import sys
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: how long after a fork's callbacks began a signal is still held back, and then sent again
#: (the callbacks take microseconds)
RESEND_AFTER_S = 0.05

#: fork in progress in this process (``generation`` counts forks), and a signal held back
#: until it is done
_fork = {"active": False, "held": None, "generation": 0}
_fork_lock = threading.RLock()  # re-entrant: the handler may run inside _before_fork


def _before_fork() -> None:
    with _fork_lock:
        _fork["active"] = True
        _fork["generation"] += 1


def _after_fork_in_parent() -> None:
    # the fork stays "active" until a timer thread ends it a moment later: a handler run
    # anywhere inside the fork's callbacks, ours or those registered after ours, would be
    # swallowed there (a Ctrl-C lost, the run going on)
    timer = threading.Timer(RESEND_AFTER_S, _fork_done, (_fork["generation"],))
    timer.daemon = True
    timer.start()


def _fork_done(generation: int) -> None:
    with _fork_lock:
        if _fork["generation"] != generation:  # another fork began: its timer ends it
            return
        _fork["active"] = False
        held, _fork["held"] = _fork["held"], None
    if held is not None:
        # to the main thread, where the handler raises: a signal sent to the process may be
        # taken by another thread while the main one stays blocked in a system call
        signal.pthread_kill(threading.main_thread().ident, held)


def _after_fork_in_child() -> None:
    _fork["active"] = False
    _fork["held"] = None  # the parent's signal, not the child's
    global _fork_lock
    _fork_lock = threading.RLock()  # the parent's may have been held by a thread that is gone


# registered once, at import: "before" callbacks run in reverse order of registration and
# "after" ones in order, so these enclose the callbacks of every module imported earlier
os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)


#: interrupts raised in this process so far: code that calls into a library which may turn a
#: KeyboardInterrupt into another exception (Lava's start-up, interrupted, fails on the half
#: started process it then tries to stop) compares it before and after
_raised = {"count": 0}


def raised_count() -> int:
    """How many signals ``interrupts_raise`` has raised as ``KeyboardInterrupt`` so far."""
    return _raised["count"]


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt in this process while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    owner = os.getpid()

    def handler(signum, frame) -> None:
        if os.getpid() != owner:  # a forked child that inherited this handler
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        with _fork_lock:  # not between _fork_done's test and its taking of the held signal
            if _fork["active"]:
                _fork["held"] = signum
                return
        _raised["count"] += 1
        interrupt = KeyboardInterrupt(f"signal {signum}")
        interrupt.sbn_signal = signum
        raise interrupt

    def unraisable(info) -> None:
        signum = getattr(info.exc_value, "sbn_signal", None)
        if signum is None:
            return previous_hook(info)
        # raised where CPython ignores exceptions (a weakref callback, a __del__ run by the
        # garbage collector during an h5py write): sent again a moment later, not lost
        _resend_later(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for sig, old in previous.items():
            signal.signal(sig, old)


def _resend_later(signum: int) -> None:
    """Send ``signum`` to the main thread after ``RESEND_AFTER_S`` (a timer thread)."""
    timer = threading.Timer(RESEND_AFTER_S, signal.pthread_kill, (threading.main_thread().ident, signum))
    timer.daemon = True
    timer.start()
