"""``sbn.segment_ledger``: the shared memory that killed Ray workers leave is reclaimed, also
when the driver itself dies with them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path

import ray.cloudpickle

from sbn import segment_ledger
from sbn.distributed import fan_out

# the task below lives in a test module the Ray workers cannot import: ship it by value
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _exists(name: str) -> bool:
    return Path("/dev/shm", name).exists()


def test_note_without_a_ledger_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(segment_ledger.LEDGER_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    segment_ledger.note("psm_nothing")
    assert list(tmp_path.iterdir()) == []


def test_note_appends_whole_lines_to_this_process_file(tmp_path, monkeypatch):
    monkeypatch.setenv(segment_ledger.LEDGER_ENV, str(tmp_path))
    segment_ledger.note("/psm_a")  # the tracker's spelling, with the slash
    segment_ledger.note("psm_b")
    assert (tmp_path / str(os.getpid())).read_text() == "psm_a\npsm_b\n"
    # a child process writes its own file; the listing joins them, each name once
    code = "from sbn import segment_ledger as s; s.note('psm_b'); s.note('psm_c')"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert len(list(tmp_path.iterdir())) == 2
    assert sorted(segment_ledger.listed(tmp_path)) == ["psm_a", "psm_b", "psm_c"]


def test_note_after_the_ledger_is_gone_is_quiet(tmp_path, monkeypatch):
    monkeypatch.setenv(segment_ledger.LEDGER_ENV, str(tmp_path / "removed"))
    segment_ledger.note("psm_late")  # the driver already reclaimed and removed the folder
    assert not (tmp_path / "removed").exists()


def test_leaving_the_ledger_unlinks_what_it_lists_and_nothing_else(monkeypatch):
    monkeypatch.delenv(segment_ledger.LEDGER_ENV, raising=False)
    listed = SharedMemory(create=True, size=64)
    unlisted = SharedMemory(create=True, size=64)
    try:
        with segment_ledger.opened() as folder:
            assert os.environ[segment_ledger.LEDGER_ENV] == str(folder)
            segment_ledger.note(listed.name)
            segment_ledger.note("psm_unlinked_already")  # Lava's stop got there first
        assert segment_ledger.LEDGER_ENV not in os.environ
        assert not folder.exists()
        assert not _exists(listed.name)
        assert _exists(unlisted.name)
    finally:
        for segment in (listed, unlisted):
            segment.close()
        unlisted.unlink()
        resource_tracker.unregister(f"/{listed.name}", "shared_memory")  # unlinked by the ledger


DRIVER = """
import os, sys, time
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from sbn import segment_ledger

with segment_ledger.opened() as folder:
    segment = SharedMemory(create=True, size=64)
    resource_tracker.unregister(segment._name, "shared_memory")  # only the ledger knows it now
    segment_ledger.note(segment.name)
    print(segment.name, folder, flush=True)
    time.sleep(600)
"""


def test_the_reaper_outlives_a_driver_killed_with_its_process_group():
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        name, folder = driver.stdout.readline().split()
        assert _exists(name)
        os.killpg(driver.pid, signal.SIGKILL)  # no finally runs in the driver
        driver.wait(30)
        deadline = time.monotonic() + 30
        while (_exists(name) or Path(folder).exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _exists(name) and not Path(folder).exists()
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)


def test_a_child_forked_in_the_block_does_not_hold_up_its_end():
    start = time.monotonic()
    with segment_ledger.opened():
        child = os.fork()  # it inherits the pipe to the reaper and keeps it open
        if child == 0:
            time.sleep(60)
            os._exit(0)
    try:
        assert time.monotonic() - start < segment_ledger.REAPER_TIMEOUT_S / 2
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def _writer(folder: Path, seconds: float) -> tuple[subprocess.Popen, str]:
    """A process that makes a segment, writes it to the ledger at ``folder``, lives on for
    ``seconds`` without unlinking it; returns (process, segment name)."""
    code = (
        "import sys, time; from multiprocessing import resource_tracker;"
        "from multiprocessing.shared_memory import SharedMemory; from sbn import segment_ledger;"
        "s = SharedMemory(create=True, size=64); resource_tracker.unregister(s._name, 'shared_memory');"
        f"segment_ledger.note(s.name); print(s.name, flush=True); time.sleep({seconds})"
    )
    env = {**os.environ, segment_ledger.LEDGER_ENV: str(folder)}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    return process, process.stdout.readline().strip()


def test_reaping_waits_for_the_writers_to_exit(tmp_path):
    writer, name = _writer(tmp_path, 1.5)
    start = time.monotonic()
    threading.Thread(target=writer.wait, daemon=True).start()  # reaped, as Ray's raylet does
    assert segment_ledger.reap(tmp_path, grace_s=20) == [name]
    assert writer.poll() is not None  # it had exited first
    assert 0.5 < time.monotonic() - start < 15
    assert not tmp_path.exists()


def test_reaping_stops_waiting_after_the_grace(tmp_path):
    writer, name = _writer(tmp_path, 600)
    try:
        start = time.monotonic()
        assert segment_ledger.reap(tmp_path, grace_s=0.3) == [name]
        assert time.monotonic() - start < 10
        assert writer.poll() is None
    finally:
        writer.kill()
        writer.wait()


def test_a_ledger_keeps_an_outer_one_named_afterwards(tmp_path):
    environ = {segment_ledger.LEDGER_ENV: str(tmp_path)}
    with segment_ledger.opened(environ) as inner:
        assert environ[segment_ledger.LEDGER_ENV] == str(inner) != str(tmp_path)
    assert environ == {segment_ledger.LEDGER_ENV: str(tmp_path)}


def makes_a_segment_and_dies(marker: str) -> None:
    """A Lava-like task killed before its cleanup, its resource tracker with it: what Ray
    does to a worker when the process group gets SIGTERM and the raylet dies."""
    from sbn.targets.lava.runtime import _registered_segments

    with _registered_segments():
        segment = SharedMemory(create=True, size=4096)
    Path(marker).write_text(segment.name)
    os.kill(resource_tracker._resource_tracker._pid, signal.SIGKILL)
    os._exit(1)


def test_a_local_ray_fan_out_reclaims_a_killed_worker_segments(tmp_path):
    marker = tmp_path / "segment"
    outcome = fan_out(makes_a_segment_and_dies, [str(marker)], workers=1, retries=0)[0]
    assert not outcome.ok  # the worker died
    name = marker.read_text()
    assert name.startswith("psm_")
    assert not _exists(name)  # without the ledger it stays in /dev/shm for good
    assert segment_ledger.LEDGER_ENV not in os.environ
