"""Run a Lava network and always stop its runtime: on success, on errors, on Ctrl-C/SIGTERM.

Lava's multiprocessing runtime forks one OS process per process model plus its runtime
service. ``run_network`` stops the runtime in a ``finally`` block (with a time limit, because
a runtime interrupted mid-step may not answer), then ends any child process that the run
started and that is still alive, by its pid (SIGTERM, then SIGKILL), and unlinks the shared
memory that a stop cut short leaves in /dev/shm. SIGTERM during a run is turned into
``KeyboardInterrupt`` so that the same cleanup runs.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from typing import TypeVar

from lava.magma.core.run_conditions import RunSteps

from sbn import segment_ledger
from sbn.errors import SimulationError
from sbn.interrupts import interrupts_raise, raised_count

log = logging.getLogger(__name__)
R = TypeVar("R")

#: message slots per Lava channel: the protocol keeps at most one step in flight, and every
#: slot is shared memory of one message's size (Lava's default, 64, costs GBs on ResNet maps)
CHANNEL_SLOTS = 4
STOP_TIMEOUT_S = 20.0
#: after a failed or interrupted run Lava's stop often never answers: wait less
FAILED_STOP_TIMEOUT_S = 2.0
#: how long stopped children get to exit on their own before SIGTERM
EXIT_GRACE_S = 5.0
#: how long a stop given up on may take to finish once its processes are ended
STRAGGLING_STOP_S = 1.0


def child_pids(pid: int | None = None) -> set[int]:
    """Every live descendant of ``pid`` (default: this process), from /proc."""
    pid = os.getpid() if pid is None else pid
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(f"/proc/{entry}/stat")
        if fields and (fields[0] != "Z" or _threads_left(int(entry))):  # zombies are dead already
            parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier and c not in found}
        found |= frontier
    return found


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    """Poll until none of ``pids`` is alive or ``seconds`` passed; the ones still alive."""
    deadline = time.monotonic() + seconds
    alive = {p for p in pids if _alive(p)}
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        _reap(alive)
        alive = {p for p in alive if _alive(p)}
    return alive


def _is_python_helper(pid: int) -> bool:
    """multiprocessing's resource tracker: the interpreter's own, shared and long-lived (it
    ignores SIGTERM on purpose and unlinks leaked shared memory when the interpreter exits)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read()
    except OSError:
        return False
    return b"resource_tracker" in cmd


def lava_children(before: set[int] = frozenset()) -> set[int]:
    """Live descendants of this process started after ``before`` was taken, less Python's
    own helpers."""
    return {p for p in child_pids() - set(before) if not _is_python_helper(p)}


def _end(pids: set[int], grace: float, quiet: bool = False) -> None:
    """Give Lava's children ``grace`` seconds to exit after stop, then SIGTERM, then SIGKILL
    (``quiet``: expected after a failed or interrupted run, so logged at debug level)."""
    say = log.debug if quiet else log.warning
    alive = _wait_gone(pids, grace)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not alive:
            return
        say("sending %s to %d Lava child process(es) left after stop", sig.name, len(alive))
        for p in alive:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        alive = _wait_gone(alive, 3.0)


def _stat_fields(path: str) -> list[str]:
    """The fields of a /proc stat file after the command name (state, ppid, ...); [] when
    the process or thread is gone."""
    try:
        with open(path, "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return []
    return stat[stat.rfind(")") + 2 :].split()


def _alive(pid: int) -> bool:
    fields = _stat_fields(f"/proc/{pid}/stat")
    return bool(fields) and (fields[0] != "Z" or _threads_left(pid))


def _threads_left(pid: int) -> bool:
    """Whether a process whose main thread has ended ("Z" in /proc/PID/stat) still runs
    other threads. A Lava process whose main thread a Ctrl-C ended lives on in its channel
    threads: it is not a zombie yet (``waitpid`` still says running), so it must be ended
    like a live one, or multiprocessing's exit handler later joins it while the ``lava-stop``
    thread does too, and loses the race ("Cannot close a process while it is still running")."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        fields = _stat_fields(f"/proc/{pid}/task/{task}/stat")
        if fields and fields[0] != "Z":
            return True
    return False


def _reap(pids: set[int]) -> None:
    """Collect the exit status of our own direct children among ``pids`` (no zombies).

    Lava's processes are ``multiprocessing`` children: they are collected through their
    ``Popen`` objects, so that their ``Process`` objects know they ended. Collected behind
    multiprocessing's back they would look alive to it for ever, and its exit handler would
    raise "Cannot close a process while it is still running" when the interpreter exits.
    """
    owned = _multiprocessing_children(pids)
    for p in pids:
        if p in owned:
            owned[p].poll()  # WNOHANG; the Process object reads the exit status it records
            continue
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:  # not our direct child, or already collected
            pass


def _multiprocessing_children(pids: set[int]) -> dict:
    """The ``Popen`` objects of multiprocessing's children among ``pids``, by pid.

    Read without ``multiprocessing.active_children()``: that polls every child through
    ``process._popen``, which fails ("'NoneType' object has no attribute 'poll'") while the
    lava-stop thread is closing one of them, since ``Process.close`` clears ``_popen`` before
    it takes the process off the list. In CI that error replaced a Ctrl-C, and the run was
    retried and ended with exit code 0.
    """
    found = {}
    for process in list(multiprocessing.process._children):  # one C-level copy: atomic
        popen = getattr(process, "_popen", None)
        if popen is not None and popen.pid in pids:
            found[popen.pid] = popen
    return found


def _stop(anchor, timeout: float, quiet: bool = False) -> threading.Thread:
    """``anchor.stop()`` in a helper thread, given up after ``timeout`` seconds; the thread."""
    say = log.debug if quiet else log.warning
    errors: list[BaseException] = []

    def target():
        try:
            anchor.stop()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="lava-stop", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        say("Lava runtime did not stop within %.0f s; ending its processes", timeout)
    elif errors:
        say("Lava runtime stop raised %s", errors[0])
    return thread


def _cause(anchor, exc: Exception) -> str:
    """What failed: the first exception a Lava process model raised, where Lava kept it.

    Lava reports a model's failure as "N Exception(s) occurred. See output above" and logs
    the model's traceback at INFO level, so "above" shows nothing; the exception itself is
    kept on the runtime's process objects (private attributes, hence every getattr).
    """
    runtime = getattr(anchor, "runtime", None)
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    for actor in getattr(infrastructure, "actors", None) or ():
        kept = getattr(actor, "_exception", None)
        if isinstance(kept, tuple) and kept and isinstance(kept[0], BaseException):
            return f"in a Lava process: {type(kept[0]).__name__}: {kept[0]}"
    return f"{type(exc).__name__}: {exc}"


def _shared_memory(anchor) -> list:
    """The run's shared-memory segments, as this process holds them (Lava creates each one
    here, through its manager, which only records the name)."""
    runtime = getattr(anchor, "runtime", None)
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    smm = getattr(infrastructure, "smm", None)
    return list(getattr(smm, "_shared_memory_handles", None) or ())


def _unlink(segments: list) -> None:
    """Unlink what an interrupted or failed run left in /dev/shm.

    Lava unlinks its segments only when its stop completes; after an interrupt it rarely
    does, and the children that could have done it are gone. Left alone they stay in
    /dev/shm until the interpreter exits (then Python's resource tracker removes them with a
    warning), or for ever when this process is killed. ``unlink`` also takes each one off the
    resource tracker's list, so nothing is reported at exit.
    """
    for segment in segments:
        try:
            segment.close()
            segment.unlink()
        except OSError:  # FileNotFoundError: Lava's stop got there first
            pass


@contextlib.contextmanager
def _registered_segments() -> Iterator[list[str]]:
    """The names of the shared memory this process puts on the resource tracker's list
    while the block runs (Lava's segments: this process creates every one). Each name also
    goes to the ledger of a driver that started this process as a local Ray worker
    (``sbn.segment_ledger``), which reclaims what a killed worker leaves."""
    names: list[str] = []
    original = resource_tracker.register

    def register(name: str, rtype: str) -> None:
        if rtype == "shared_memory":
            names.append(name.lstrip("/"))
            segment_ledger.note(name)
        original(name, rtype)

    resource_tracker.register = register  # SharedMemory looks it up on each call
    try:
        yield names
    finally:
        resource_tracker.register = original


def run_network(anchor, steps: int, run_cfg, read: Callable[[], R]) -> R:
    """Run the network of ``anchor`` for ``steps`` Lava steps, return ``read()``; always stop.

    An error that follows an interrupt (Lava's start-up, interrupted, fails on the half-started
    process it then stops; a clean-up step fails on what the interrupt cut short) is raised
    as the interrupt: the run was stopped by the user, not failed, and must not be retried.
    """
    interrupts_before = raised_count()
    # SIGTERM too; a signal during Lava's forks is not lost
    with interrupts_raise(), _registered_segments() as registered:
        try:
            return _run_and_stop(anchor, steps, run_cfg, read, registered)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            if raised_count() != interrupts_before:
                raise KeyboardInterrupt("interrupted during the Lava run") from exc
            raise


def _run_and_stop(anchor, steps: int, run_cfg, read: Callable[[], R], registered: list[str]) -> R:
    # the tracker started here, before Lava forks, so that the segments are on this
    # process's tracker whichever process ends up unlinking them
    resource_tracker.ensure_running()
    before = child_pids()
    finished = False
    try:
        try:
            anchor.run(
                condition=RunSteps(num_steps=steps),
                run_cfg=run_cfg,
                compile_config={"pypy_channel_size": CHANNEL_SLOTS},
            )
            result = read()
            finished = True
            return result
        except (KeyboardInterrupt, SimulationError):
            raise
        except Exception as exc:  # Lava wraps a model's failure in its own exceptions
            raise SimulationError(f"Lava run failed: {_cause(anchor, exc)}".splitlines()[0]) from exc
    finally:
        segments = _shared_memory(anchor)
        stopping = None
        try:
            if anchor.runtime is not None:
                stopping = _stop(
                    anchor, STOP_TIMEOUT_S if finished else FAILED_STOP_TIMEOUT_S, quiet=not finished
                )
        finally:
            try:
                _end(lava_children(before), EXIT_GRACE_S if finished else 0.5, quiet=not finished)
                if stopping is not None:
                    # a stop given up on goes on once its processes are ended: let it finish
                    # here rather than while the next run starts its processes (both walk
                    # multiprocessing's list of children); one blocked for good on a dead
                    # process's channel is left behind
                    stopping.join(STRAGGLING_STOP_S)
            finally:
                _unlink(segments)
                if not finished:
                    # Lava's own list misses one: an interrupt inside its
                    # SharedMemory(create=True), after the segment was made and put on the
                    # resource tracker's list but before Lava kept it
                    segment_ledger.unlink_segments(registered)
