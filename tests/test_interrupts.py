"""``sbn.interrupts``: a signal that arrives while a fork is under way is held back until all
of the fork's callbacks are done, then raised in the main thread; never swallowed, never lost."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sbn import interrupts
from sbn.interrupts import RESEND_AFTER_S, interrupts_raise


def test_a_signal_during_a_forks_callbacks_is_held_then_raised():
    with interrupts_raise():
        interrupts._before_fork()
        os.kill(os.getpid(), signal.SIGINT)  # the handler runs here: held, nothing raised
        interrupts._after_fork_in_parent()  # the fork's later callbacks may still run: held
        os.kill(os.getpid(), signal.SIGTERM)  # inside them: held too (one signal suffices)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            time.sleep(5)
        assert RESEND_AFTER_S * 0.5 <= time.monotonic() - start < 2


def test_a_signal_handled_in_a_weakref_callback_is_raised_again_not_swallowed(capsys):
    """CPython ignores an exception raised in a weakref callback (h5py's objects have them):
    SIGTERM during an export's write once ended in exit code 0 after "Exception ignored in"."""
    import weakref

    class Thing:
        pass

    def signalled(_ref) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):  # the handler runs on one of these lines, inside the callback
            pass

    with interrupts_raise():
        thing = Thing()
        watch = weakref.ref(thing, signalled)
        del thing  # the callback runs now; its KeyboardInterrupt is ignored by CPython
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            time.sleep(5)
        assert time.monotonic() - start < 2
    assert watch() is None
    assert capsys.readouterr().err == ""  # no "Exception ignored in" either


def test_a_fork_that_begins_before_the_resend_keeps_holding():
    with interrupts_raise():
        interrupts._before_fork()
        os.kill(os.getpid(), signal.SIGINT)
        interrupts._after_fork_in_parent()
        interrupts._before_fork()  # the next fork, before the first one's timer
        time.sleep(RESEND_AFTER_S * 3)  # the first timer fires and sees a newer fork
        interrupts._after_fork_in_parent()
        with pytest.raises(KeyboardInterrupt):
            time.sleep(5)


def test_without_a_fork_the_signal_raises_at_once():
    with interrupts_raise(), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)


def test_a_signal_during_a_burst_of_real_forks_is_never_lost():
    """A process that forks 60 children one after another, as Lava starts its processes,
    then idles; SIGINT arrives at some moment of the burst. It always ends with
    KeyboardInterrupt (held back while the forks go on, at the latest when they stop) and
    nothing is reported as ignored."""
    script = textwrap.dedent(
        """
        import multiprocessing as mp, sys, time
        from sbn.interrupts import interrupts_raise
        mp.set_start_method("fork")
        try:
            with interrupts_raise():
                print("forking", flush=True)
                for _ in range(60):
                    p = mp.Process(target=time.sleep, args=(0,))
                    p.start()
                    p.join()
                time.sleep(60)
        except KeyboardInterrupt:
            sys.exit(130)
        """
    )
    for delay in (0.0, 0.05, 0.1, 0.2, 0.3):
        run = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert run.stdout.readline() == "forking\n"
            time.sleep(delay)
            run.send_signal(signal.SIGINT)
            _, err = run.communicate(timeout=30)
            assert (run.returncode, err) == (130, ""), delay
        finally:
            run.kill()
            run.wait()
