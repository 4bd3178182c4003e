"""Fan a function out over items, on Ray workers or in this process.

    outcomes = fan_out(train_one, jobs, workers=4)              # local Ray, 4 tasks at once
    outcomes = fan_out(train_one, jobs, workers=8, address="ray://head:10001")  # a cluster
    outcomes = fan_out(train_one, jobs, workers=0)              # in-process, no Ray (debugging)

Every item gives one ``Outcome`` (in item order): its value, or the one-line error that
ended it. A failing item never stops the others. Failures are retried up to ``retries``
more times, except errors listed in ``no_retry`` (by default the toolchain's own
``SbnError``: bad input fails the same way every time). A Ray worker that dies (killed,
out of memory, segfault) is a failure like any other and is retried the same way.

``on_result`` is called in the calling process as each item finishes (its last attempt),
so a caller can record progress durably while the rest still run. A ``KeyboardInterrupt``
(or an exception from ``on_result``) cancels what is still running and propagates.

Ray is imported only when ``workers >= 1``. If Ray is already initialised (a test fixture,
a notebook, a caller running several fan-outs) it is used as it is and left running;
otherwise this call starts it (``ray.init(address=...)`` for a cluster, a local instance
with ``workers`` CPUs otherwise) and always shuts it down again. ``fn`` and the items
must be picklable (cloudpickle: module-level functions by reference, so the workers must
be able to import their module; ``functools.partial`` objects and closures work too).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sbn import segment_ledger
from sbn.errors import ConfigError, SbnError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one item: ``ok`` with ``value``, or failed with ``error``."""

    index: int
    ok: bool
    value: Any = None
    error: str | None = None  # one line: "ExceptionType: message"
    error_type: str | None = None  # the exception's class name
    attempts: int = 1
    seconds: float = 0.0  # wall time of all attempts together
    permanent: bool = False  # failed with an error in ``no_retry``: it would again


def _failure(
    index: int, exc: BaseException, attempts: int, start: float, no_retry, remote: BaseException | None = None
) -> Outcome:
    """The outcome of an item whose last attempt raised ``exc`` (inside Ray's ``remote``
    error, whose text holds the worker's traceback). Anything but the toolchain's own errors
    is a bug or a lost worker: its traceback goes to the log, since the outcome keeps one line."""
    if not isinstance(exc, SbnError):
        trace = str(remote) if remote is not None else "".join(traceback.format_exception(exc))
        log.error("item %d failed:\n%s", index, trace.rstrip())
    return Outcome(
        index,
        False,
        error=one_line(exc),
        error_type=type(exc).__name__,
        attempts=attempts,
        seconds=time.time() - start,
        permanent=isinstance(exc, no_retry),
    )


def fan_out(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int | None = None,
    address: str | None = None,
    retries: int = 1,
    no_retry: tuple[type[BaseException], ...] = (SbnError,),
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
    on_result: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run ``fn(item)`` for every item; return one ``Outcome`` per item, in item order.

    workers: 0 runs in this process, one item after the other (no Ray); N >= 1 keeps at
    most N Ray tasks in flight (a local Ray instance gets N CPUs); None: as many as the
    cluster has CPUs (and, with ``gpus_per_task``, GPUs) for, or locally min(items, CPU
    cores). address: an existing Ray cluster ("auto", "ray://host:10001", "host:6379")
    instead of a local instance. gpus_per_task: Ray's ``num_gpus`` per task (0.5 lets two
    tasks share a GPU); Ray gives each task its GPUs through CUDA_VISIBLE_DEVICES and hides
    them from tasks that ask for none.
    """
    items = list(items)
    if workers is not None and workers < 0:
        raise ConfigError(f"workers must be >= 0 (0 runs in this process), got {workers}")
    if retries < 0:
        raise ConfigError(f"retries must be >= 0, got {retries}")
    if workers == 0 and address is not None:
        raise ConfigError("--address needs Ray workers: give --workers 1 or more")
    if gpus_per_task < 0:
        raise ConfigError(f"GPUs per task must be >= 0, got {gpus_per_task}")
    on_result = on_result or (lambda outcome: None)
    if not items:
        return []
    if workers == 0:
        return _in_process(fn, items, retries, no_retry, on_result)
    return _on_ray(fn, items, workers, address, retries, no_retry, cpus_per_task, gpus_per_task, on_result)


def one_line(exc: BaseException) -> str:
    """``"Type: message"`` on a single line (multi-line messages are joined)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _in_process(fn, items, retries, no_retry, on_result) -> list[Outcome]:
    outcomes = []
    for index, item in enumerate(items):
        start = time.time()
        attempts = 0
        while True:
            attempts += 1
            try:
                value = fn(item)
            except Exception as exc:
                if attempts <= retries and not isinstance(exc, no_retry):
                    log.warning("item %d failed (%s); retrying", index, one_line(exc))
                    continue
                outcome = _failure(index, exc, attempts, start, no_retry)
            else:
                outcome = Outcome(index, True, value=value, attempts=attempts, seconds=time.time() - start)
            break
        outcomes.append(outcome)
        on_result(outcome)
    return outcomes


def _on_ray(fn, items, workers, address, retries, no_retry, cpus_per_task, gpus_per_task, on_result):
    import ray

    with _ray_session(ray, workers or min(len(items), os.cpu_count() or 1), address):
        return _run_tasks(ray, fn, items, workers, retries, no_retry, cpus_per_task, gpus_per_task, on_result)


@contextlib.contextmanager
def _ray_session(ray, workers: int, address: str | None) -> Iterator[None]:
    """Ray for one fan-out: an instance already initialised is used and left running; else
    one is started here and shut down after. A local instance gets a ledger of the shared
    memory its workers create (``sbn.segment_ledger``), whose reaper unlinks what killed
    workers left once Ray and this process are done with it."""
    if ray.is_initialized():
        yield
        return
    with segment_ledger.opened() if address is None else contextlib.nullcontext():
        _start_ray(ray, workers, address)
        try:
            yield
        finally:
            ray.shutdown()


def _run_tasks(ray, fn, items, workers, retries, no_retry, cpus_per_task, gpus_per_task, on_result):
    pending: dict[Any, tuple[int, int, float]] = {}  # ref -> (index, attempt, start time)
    try:
        resources = ray.cluster_resources()
        if gpus_per_task > resources.get("GPU", 0):  # Ray would wait for it for ever
            raise ConfigError(
                f"each task asks for {gpus_per_task} GPU(s) but the Ray cluster "
                f"has {resources.get('GPU', 0):g}"
            )
        if workers is None:
            workers = _slots(resources, cpus_per_task, gpus_per_task)
        # max_retries=0: retries are counted here, the same way for both kinds of failure
        task = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=0)(_call)
        fn_ref = _shipped(ray, fn)
        queue = list(range(len(items)))[::-1]  # pop() from the end gives item order
        results: dict[int, Outcome] = {}
        started: dict[int, float] = {}

        def submit(index: int, attempt: int) -> None:
            started.setdefault(index, time.time())
            pending[task.remote(fn_ref, items[index])] = (index, attempt, started[index])

        while queue or pending:
            while queue and len(pending) < workers:
                submit(queue.pop(), 1)
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            index, attempt, start = pending.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as exc:
                cause = _cause(exc)
                if attempt <= retries and not isinstance(cause, no_retry):
                    log.warning("item %d failed (%s); retrying", index, one_line(cause))
                    submit(index, attempt + 1)
                    continue
                outcome = _failure(index, cause, attempt, start, no_retry, remote=exc)
            else:
                outcome = Outcome(index, True, value=value, attempts=attempt, seconds=time.time() - start)
            results[index] = outcome
            on_result(outcome)
        return [results[i] for i in range(len(items))]
    finally:
        if pending:  # interrupted: stop what still runs
            _cancel(ray, list(pending))


#: Ray's limit for an argument carried inside the task itself (``max_direct_call_object_size``)
INLINE_BYTES = 100 * 1024


def _shipped(ray, fn: Callable[[Any], Any]) -> Any:
    """``fn`` as every task gets it: by value when small, else put in the object store once.

    An object this driver owns in the store is what Ray's core worker tries to recover when
    the raylet dies (SIGTERM or Ctrl-C to the process group), and failing to reach the store
    it ends the driver at once, exit code 1 and no ``finally`` run: 1 probe in 11 did that.
    """
    if len(ray.cloudpickle.dumps(fn)) < INLINE_BYTES:
        return fn
    return ray.put(fn)


#: how long interrupted tasks get to run their own cleanup (a Lava runtime stops its
#: processes and unlinks its shared memory within ~10 s) before their workers are killed
CANCEL_GRACE_S = 15.0


def _cancel(ray, refs: list) -> None:
    """Cancel running tasks: first as a ``KeyboardInterrupt`` inside each, so that their
    ``finally`` blocks run; the workers of those still running after the grace are killed."""
    for ref in refs:
        try:
            ray.cancel(ref, force=False)
        except Exception:
            pass
    try:
        _, running = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
    except Exception:
        running = refs
    for ref in running:
        try:
            ray.cancel(ref, force=True)
        except Exception:
            pass


def _slots(resources: dict, cpus_per_task: float, gpus_per_task: float) -> int:
    """How many tasks the cluster's resources run at once."""
    slots = int(resources.get("CPU", 1) // cpus_per_task)
    if gpus_per_task > 0:
        slots = min(slots, int(resources.get("GPU", 0) // gpus_per_task))
    return max(1, slots)


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """The Ray task: Ray resolves ``fn`` from the object store first where it was put there."""
    with _cancellable():
        return fn(item)


#: the signal that wakes a task's main thread from a system call (its handler does nothing)
WAKE_SIGNAL = signal.SIGUSR2


@contextlib.contextmanager
def _cancellable() -> Iterator[None]:
    """Let ``ray.cancel`` reach a task that waits in a system call.

    Ray cancels a running task by tripping Python's SIGINT flag in the worker, without a
    signal: a main thread blocked in a system call (a Lava run waiting for its processes)
    never looks at the flag, so the task ran on until its worker was killed and its
    ``finally`` blocks never ran (Lava's shared memory stayed in /dev/shm). Tripping the flag
    also writes the signal number to Python's wakeup fd: here a watcher thread reads it and
    sends the main thread ``WAKE_SIGNAL``, whose handler does nothing. The system call
    returns, Python runs the tripped SIGINT handler, and ``KeyboardInterrupt`` unwinds the task.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    main = threading.main_thread().ident
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    finished = threading.Event()
    previous_wake = signal.signal(WAKE_SIGNAL, lambda signum, frame: None)
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

    def watch() -> None:
        while not finished.is_set():
            ready, _, _ = select.select([read_end], [], [], 0.2)
            if not ready:
                continue
            received = os.read(read_end, 512)
            if previous_fd != -1:  # whoever listened before still hears every signal
                with contextlib.suppress(OSError):
                    os.write(previous_fd, received)
            if signal.SIGINT in received and not finished.is_set():
                signal.pthread_kill(main, WAKE_SIGNAL)

    watcher = threading.Thread(target=watch, name="sbn-cancel-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        signal.set_wakeup_fd(previous_fd)
        watcher.join()
        signal.signal(WAKE_SIGNAL, previous_wake)
        os.close(read_end)
        os.close(write_end)


def _start_ray(ray, workers: int, address: str | None) -> None:
    """``ray.init``, keeping this process's SIGINT and SIGTERM handlers.

    Ray's core worker installs its own fatal-signal handler for SIGTERM, which prints a
    stack dump and aborts; the caller's (``sbn.interrupts``: unwind as ``KeyboardInterrupt``,
    so that running tasks are cancelled and their cleanup runs) are put back.
    """
    if address is not None:
        _reachable(address)
    main = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    failure = None
    try:
        with _native_stderr_held() as held:
            try:
                if address is not None:
                    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
                else:  # our own instance: Ray's notes about it (its auth token, ...) are not the user's
                    ray.init(
                        num_cpus=workers,
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level=logging.ERROR,
                    )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                failure = exc
    finally:
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
    if failure is None:
        sys.stderr.write(held.text)  # what Ray had to say about a good start, as it said it
        return
    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
    hint = ""
    if "InvalidAuthToken" in held.text or "Authentication token" in held.text:
        hint = (
            " (the cluster wants its authentication token: set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH "
            "to the token the cluster was started with)"
        )
    raise ConfigError(f"could not start {where}: {one_line(failure)}{hint}") from None


#: how long the cluster's address gets to accept a connection
PROBE_TIMEOUT_S = 5.0


def _reachable(address: str) -> None:
    """Refuse at once an address where nothing listens: Ray itself retries for minutes.
    ``auto`` (the cluster this machine belongs to) is left to Ray."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"could not reach the Ray cluster at {address}: {reason} (is `ray start --head` running there?)"
        ) from None


class _Held:
    text = ""


@contextlib.contextmanager
def _native_stderr_held() -> Iterator[_Held]:
    """Hold back what is written to file descriptor 2 while the block runs (``.text`` after).

    Ray's native client logs each failed attempt to reach a cluster on stderr, a line a
    second for a minute; the caller prints one line instead, or passes the text on.
    """
    held = _Held()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield held
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                sink.seek(0)
                held.text = sink.read().decode(errors="replace")
    finally:
        os.close(saved)


def _cause(exc: BaseException) -> BaseException:
    """The application's own exception inside a Ray task error; Ray's error otherwise
    (a dead worker, a cancelled task)."""
    from ray.exceptions import RayTaskError

    if isinstance(exc, RayTaskError) and exc.cause is not None:
        return exc.cause
    return exc
