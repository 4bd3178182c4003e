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

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

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


def _failure(index: int, exc: BaseException, attempts: int, start: float, no_retry) -> Outcome:
    """The outcome of an item whose last attempt raised ``exc``."""
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

    owned = not ray.is_initialized()
    if owned:
        local = min(len(items), os.cpu_count() or 1)
        _start_ray(ray, workers or local, address)
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
        fn_ref = ray.put(fn)  # shipped once, whatever it is (function, partial, callable)
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
                outcome = _failure(index, cause, attempt, start, no_retry)
            else:
                outcome = Outcome(index, True, value=value, attempts=attempt, seconds=time.time() - start)
            results[index] = outcome
            on_result(outcome)
        return [results[i] for i in range(len(items))]
    finally:
        for ref in pending:  # interrupted: stop what still runs
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        if owned:
            ray.shutdown()


def _slots(resources: dict, cpus_per_task: float, gpus_per_task: float) -> int:
    """How many tasks the cluster's resources run at once."""
    slots = int(resources.get("CPU", 1) // cpus_per_task)
    if gpus_per_task > 0:
        slots = min(slots, int(resources.get("GPU", 0) // gpus_per_task))
    return max(1, slots)


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """The Ray task: Ray resolves ``fn`` from the object store before calling this."""
    return fn(item)


def _start_ray(ray, workers: int, address: str | None) -> None:
    try:
        if address is not None:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(
                num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ConfigError(f"could not start {where}: {one_line(exc)}") from None


def _cause(exc: BaseException) -> BaseException:
    """The application's own exception inside a Ray task error; Ray's error otherwise
    (a dead worker, a cancelled task)."""
    from ray.exceptions import RayTaskError

    if isinstance(exc, RayTaskError) and exc.cause is not None:
        return exc.cause
    return exc
