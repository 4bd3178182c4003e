"""``sbn.distributed.fan_out``: in-process and on real Ray workers, failures, retries."""

import functools
import os
import sys
import time
from pathlib import Path

import pytest
import ray.cloudpickle

from sbn.distributed import Outcome, fan_out, one_line
from sbn.errors import ConfigError, SbnError

# the helpers below live in a test module the Ray workers cannot import: ship them by value
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def square(x):
    return x * x


def add_length(blob: bytes, x: int) -> int:
    return len(blob) + x


def fails_on_three(x):
    if x == 3:
        raise ValueError(f"item {x} is\nbad")
    return x


def config_error(x):
    raise ConfigError(f"bad item {x}")


def flaky(marker: str):
    """Fails the first time (leaving ``marker`` behind), succeeds the next."""
    path = Path(marker)
    if not path.exists():
        path.write_text("tried")
        raise RuntimeError("transient")
    return "second time lucky"


def dies_once(marker: str):
    """Kills its own worker process the first time: what a segfault or the OOM killer does."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os._exit(1)
    return os.getpid()


def blocks_until_interrupted(marker: str):
    """Waits in a system call (as a Lava run waits for its processes) and records whether its
    ``finally`` block ran, and after how long."""
    import threading

    start = time.monotonic()
    Path(marker + ".started").write_text("")
    try:
        threading.Event().wait()
    finally:
        Path(marker).write_text(f"{time.monotonic() - start:.2f}")


def pid_after_nap(x):
    time.sleep(0.3)
    return os.getpid()


# ---- in process ---------------------------------------------------------------------------
def test_in_process_results_in_order_and_failures_recorded():
    seen = []
    outcomes = fan_out(fails_on_three, [1, 2, 3, 4], workers=0, on_result=seen.append)
    assert [o.ok for o in outcomes] == [True, True, False, True]
    assert [o.value for o in outcomes] == [1, 2, None, 4]
    bad = outcomes[2]
    assert bad.error == "ValueError: item 3 is bad" and bad.error_type == "ValueError"
    assert bad.attempts == 2 and not bad.permanent  # retried once (retries=1), then recorded
    assert [o.index for o in seen] == [0, 1, 2, 3]


def test_in_process_retry_and_no_retry(tmp_path):
    ok = fan_out(flaky, [str(tmp_path / "m")], workers=0, retries=1)[0]
    assert ok == Outcome(0, True, value="second time lucky", attempts=2, seconds=ok.seconds)
    again = fan_out(flaky, [str(tmp_path / "n")], workers=0, retries=0)[0]
    assert not again.ok and again.error == "RuntimeError: transient" and again.attempts == 1
    config = fan_out(config_error, [7], workers=0, retries=3)[0]
    assert (config.ok, config.attempts, config.permanent) == (False, 1, True)
    assert config.error == "ConfigError: bad item 7"


def test_a_bug_logs_its_traceback_an_input_error_does_not(caplog):
    """The outcome keeps one line; where that line is a bug's, the traceback a fix needs is logged."""
    with caplog.at_level("ERROR", logger="sbn.distributed"):
        fan_out(fails_on_three, [3], workers=0, retries=0)
        fan_out(config_error, [7], workers=0, retries=0)
    (record,) = caplog.records
    assert record.getMessage().startswith("item 0 failed:\nTraceback (most recent call last):")
    assert 'in fails_on_three\n    raise ValueError(f"item {x} is\\nbad")' in record.getMessage()


def test_keyboard_interrupt_propagates_and_stops():
    ran = []

    def stop_at_two(x):
        if x == 2:
            raise KeyboardInterrupt
        ran.append(x)

    with pytest.raises(KeyboardInterrupt):
        fan_out(stop_at_two, [1, 2, 3], workers=0)
    assert ran == [1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"workers": -1}, "workers must be >= 0"),
        ({"workers": 0, "address": "auto"}, "--address needs Ray workers"),
        ({"workers": 0, "retries": -1}, "retries must be >= 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        fan_out(square, [1], **kwargs)


def test_empty_and_one_line():
    assert fan_out(square, [], workers=2) == []  # no items: Ray is not even started
    assert one_line(SbnError("a\n  b")) == "SbnError: a b"
    assert one_line(KeyError()) == "KeyError"


def test_tasks_at_once_follow_cpus_and_gpus():
    from sbn.distributed import _slots

    assert _slots({"CPU": 8}, 1, 0) == 8
    assert _slots({"CPU": 8, "GPU": 2}, 1, 0.5) == 4  # two trials per GPU
    assert _slots({"CPU": 8, "GPU": 4}, 4, 1) == 2  # CPUs are the limit
    assert _slots({"CPU": 8}, 1, 1) == 1  # never below one (fan_out refuses first)


# ---- on Ray -------------------------------------------------------------------------------
def test_ray_runs_on_worker_processes(ray_local):
    outcomes = fan_out(pid_after_nap, range(4), workers=2)
    pids = {o.value for o in outcomes}
    assert all(o.ok for o in outcomes) and os.getpid() not in pids
    assert [o.index for o in outcomes] == [0, 1, 2, 3]
    assert [o.value for o in fan_out(square, [3, 4, 5], workers=2)] == [9, 16, 25]
    assert [o.value for o in fan_out(functools.partial(pow, 2), [3, 4], workers=2)] == [8, 16]
    assert ray_local.is_initialized()  # a Ray it did not start is left running


def test_small_functions_travel_by_value_big_ones_once_through_the_store(ray_local):
    from sbn.distributed import _shipped

    assert _shipped(ray_local, square) is square  # the driver owns nothing in the store
    blob = b"x" * 200_000
    assert isinstance(_shipped(ray_local, functools.partial(add_length, blob)), ray_local.ObjectRef)
    outcomes = fan_out(functools.partial(add_length, blob), [1, 2], workers=2)
    assert [o.value for o in outcomes] == [200_001, 200_002]


def test_tasks_asking_for_absent_gpus_are_refused(ray_local):
    assert ray_local.cluster_resources().get("GPU", 0) == 0  # ray_local hides any GPU
    with pytest.raises(ConfigError, match=r"^each task asks for 1 GPU\(s\) but the Ray cluster has 0$"):
        fan_out(square, [1, 2], workers=2, gpus_per_task=1)
    with pytest.raises(ConfigError, match=r"^each task asks for 0.5 GPU\(s\) but the Ray cluster has 0$"):
        fan_out(square, [1], workers=None, gpus_per_task=0.5)  # a share of a GPU is one too
    assert [o.value for o in fan_out(square, [2], workers=1)] == [4]  # nothing left waiting


def test_ray_failures_are_recorded_not_raised(ray_local):
    seen = []
    outcomes = fan_out(fails_on_three, [1, 2, 3, 4], workers=2, retries=0, on_result=seen.append)
    assert [o.value for o in outcomes] == [1, 2, None, 4]
    assert outcomes[2].error == "ValueError: item 3 is bad"
    assert sorted(o.index for o in seen) == [0, 1, 2, 3]
    config = fan_out(config_error, [1], workers=1, retries=2)[0]
    assert (config.attempts, config.permanent, config.error) == (1, True, "ConfigError: bad item 1")


def test_ray_bug_logs_the_workers_traceback(ray_local, caplog):
    with caplog.at_level("ERROR", logger="sbn.distributed"):
        fan_out(fails_on_three, [3], workers=1, retries=0)
    (record,) = caplog.records
    assert record.getMessage().startswith("item 0 failed:\n") and "in fails_on_three" in record.getMessage()


def test_ray_dead_worker_is_retried(ray_local, tmp_path):
    outcome = fan_out(dies_once, [str(tmp_path / "marker")], workers=1, retries=1)[0]
    assert outcome.ok and outcome.attempts == 2, outcome
    lost = fan_out(dies_once, [str(tmp_path / "other")], workers=1, retries=0)[0]
    assert not lost.ok and not lost.permanent and "Worker" in lost.error_type, lost


def test_cancel_reaches_a_task_blocked_in_a_system_call(ray_local, tmp_path):
    """Ray's own cancel only sets Python's interrupt flag, which a thread blocked in a system
    call never sees: the task ran until it was killed, its ``finally`` never ran (a Lava run's
    shared memory stayed in /dev/shm). ``_cancel`` must interrupt it within the grace."""
    from sbn import distributed

    marker = str(tmp_path / "finally")
    task = ray_local.remote(max_retries=0)(distributed._call)
    ref = task.remote(blocks_until_interrupted, marker)
    deadline = time.monotonic() + 120
    while not Path(marker + ".started").exists():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    start = time.monotonic()
    distributed._cancel(ray_local, [ref])
    assert time.monotonic() - start < distributed.CANCEL_GRACE_S / 2  # not killed after the grace
    assert Path(marker).exists(), "the task's finally block did not run"
    with pytest.raises(ray_local.exceptions.TaskCancelledError):
        ray_local.get(ref, timeout=30)
    # the worker took no SIGINT with it into its next task
    assert fan_out(square, [3], workers=1)[0].value == 9
