"""Lava's runtime is always stopped: after success, after a model's error, after Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nir
import numpy as np
import pytest

from sbn.errors import SimulationError
from sbn.targets.lava import network, simulate
from sbn.targets.lava.runtime import _alive, child_pids, lava_children


def chain_graph():
    n = 4
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n])}),
            "fc": nir.Linear(weight=np.eye(n)),
            "if": nir.IF(r=np.ones(n), v_threshold=np.full(n, 0.5)),
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "fc"), ("fc", "if"), ("if", "output")],
        metadata={"sbn.dt": 1.0},
    )


def test_success_leaves_no_process():
    run = simulate(chain_graph(), np.ones((3, 2, 4)), fuse="node")
    assert run.processes == 4 and run.outputs["output"].all()
    assert not lava_children()


def test_error_inside_a_run_stops_everything(monkeypatch):
    original = network.SegmentModel.run_spk

    def failing(self):
        if self.time_step == 2:
            raise RuntimeError("injected failure")
        original(self)

    monkeypatch.setattr(network.SegmentModel, "run_spk", failing)  # inherited by the fork
    with pytest.raises(SimulationError, match="Lava run failed"):
        simulate(chain_graph(), np.ones((3, 1, 4)), fuse="node")
    assert not lava_children()


def test_an_interrupt_that_lava_turns_into_another_error_stays_an_interrupt():
    """Lava's start-up, interrupted, went on to stop the half-started process and failed
    there ("'NoneType' object has no attribute 'poll'"): that error was taken for a failed run
    and retried, so a Ctrl-C ended in exit code 0 (seen once in CI)."""
    from sbn.targets.lava.runtime import run_network

    class LavaLike:
        runtime = None

        def run(self, **_):
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the handler raises KeyboardInterrupt here
            except KeyboardInterrupt:
                raise AttributeError("'NoneType' object has no attribute 'poll'") from None

    with pytest.raises(KeyboardInterrupt):
        run_network(LavaLike(), 1, None, read=lambda: None)
    with pytest.raises(SimulationError, match="poll"):  # without an interrupt: a failed run

        class Failing(LavaLike):
            def run(self, **_):
                raise AttributeError("'NoneType' object has no attribute 'poll'")

        run_network(Failing(), 1, None, read=lambda: None)


def test_a_failing_clean_up_after_an_interrupt_stays_an_interrupt_and_still_unlinks(monkeypatch):
    """CI: a Ctrl-C during a run, then the clean-up's poll of the children failed on a
    process the lava-stop thread was closing; the AttributeError replaced the interrupt, the
    run was retried and ended in exit code 0, and the run's segments were never unlinked."""
    from sbn.targets.lava import runtime

    unlinked = []

    class Segment:
        def close(self):
            pass

        def unlink(self):
            unlinked.append(self)

    class Interrupted:
        runtime = None

        def run(self, **_):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises KeyboardInterrupt here

    def failing_end(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'poll'")

    monkeypatch.setattr(runtime, "_shared_memory", lambda anchor: [Segment()])
    monkeypatch.setattr(runtime, "_end", failing_end)
    with pytest.raises(KeyboardInterrupt):
        runtime.run_network(Interrupted(), 1, None, read=lambda: None)
    assert len(unlinked) == 1
    with pytest.raises(AttributeError):  # without an interrupt it is the error it is

        class Quiet(Interrupted):
            def run(self, **_):
                pass

        runtime.run_network(Quiet(), 1, None, read=lambda: None)


def test_reaping_ignores_a_process_being_closed_by_another_thread():
    """``Process.close`` clears ``_popen`` before it takes the process off multiprocessing's
    list of children: a reap at that moment must neither fail (it did, through
    ``multiprocessing.active_children``) nor lose the exit status of the others."""
    import multiprocessing

    from sbn.targets.lava.runtime import _reap

    closing = multiprocessing.Process(target=time.sleep, args=(0,))
    ending = multiprocessing.Process(target=time.sleep, args=(0,))
    closing.start(), ending.start()
    half_closed = closing._popen
    half_closed.wait()  # collected by another thread: still on multiprocessing's list
    closing._popen = None  # the state between the two lines of Process.close
    try:
        deadline = time.time() + 30
        while ending._popen.returncode is None and time.time() < deadline:
            _reap({ending.pid, half_closed.pid})
            time.sleep(0.01)
        assert ending.exitcode == 0 and not ending.is_alive()
    finally:
        closing._popen = half_closed
        closing.close()
        ending.join()
        ending.close()


SCRIPT = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    sys.path.insert(0, {here!r})
    from test_runtime import chain_graph
    from sbn.targets.lava import network, simulate
    from sbn.targets.lava.runtime import lava_children

    original = network.SegmentModel.run_spk
    def slow(self):
        if self.time_step == 3:  # every segment process gets here: one temporary file each
            tmp = {pids!r} + f".{{os.getpid()}}.tmp"
            with open(tmp, "w") as fh:
                fh.write(" ".join(map(str, lava_children_of_parent())))
            os.replace(tmp, {pids!r})
        time.sleep(0.5)
        original(self)
    def lava_children_of_parent():
        from sbn.targets.lava.runtime import child_pids
        return sorted(child_pids(os.getppid()) | {{os.getppid()}})
    network.SegmentModel.run_spk = slow
    try:
        simulate(chain_graph(), np.ones((50, 1, 4)), fuse="node")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_no_orphans(tmp_path, sig):
    pids_file = tmp_path / "pids"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(here=str(Path(__file__).parent), pids=str(pids_file)))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not pids_file.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, "the simulation ended before it could be interrupted"
            time.sleep(0.1)
        children = {int(p) for p in pids_file.read_text().split()} - {proc.pid}
        assert len(children) >= 4  # the segment processes and Lava's runtime service
        proc.send_signal(sig)  # to the parent only, as a supervisor would
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "interrupted" in out and proc.returncode == 130
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in children if _alive(p)]


def test_a_process_whose_main_thread_ended_is_alive_while_its_threads_run():
    """A Lava process whose main thread a Ctrl-C ended lives on in its channel threads:
    /proc shows its leader as a zombie, ``waitpid`` says it runs. It used to be taken for
    dead and left running (multiprocessing's exit handler then raced the lava-stop thread
    to join it: "Cannot close a process while it is still running" after ``interrupted``)."""
    script = (
        "import ctypes, threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "ctypes.CDLL(None).pthread_exit(None)  # the main thread alone ends\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 30
        while _leader_state(proc.pid) != "Z" and time.time() < deadline:
            time.sleep(0.05)
        assert _leader_state(proc.pid) == "Z" and proc.poll() is None
        assert _alive(proc.pid) and proc.pid in child_pids()
    finally:
        proc.kill()
        proc.wait()
    assert not _alive(proc.pid) and proc.pid not in child_pids()


def _leader_state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2 :].split()[0]
