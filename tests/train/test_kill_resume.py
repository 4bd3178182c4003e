"""``kill -9`` in the middle of an epoch, then ``--resume``: at most the running epoch is lost.

The checkpoint is rewritten atomically after every epoch, so whatever instant the process
dies at, --out holds the last finished epoch in full; the lock it held goes with it and its
temporary file is swept by the next run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tiny_run import TINY_MODEL

from sbn import checkpoint as ckpt_io

SBN = Path(sys.executable).parent / "sbn"


def test_kill_9_mid_epoch_then_resume_loses_at_most_the_running_epoch(tmp_path):
    out = tmp_path / "c.safetensors"
    args = [
        str(SBN),
        "train",
        "--out",
        str(out),
        *TINY_MODEL,
        "--T",
        "1",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--train-samples",
        "2048",  # an epoch of seconds: the kill lands inside the second one on any machine
        "--test-samples",
        "16",
    ]
    run = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600
        while not out.exists() and run.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # into the second epoch
        run.send_signal(signal.SIGKILL)
    finally:
        run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL, "the run ended before it could be killed"

    survived = ckpt_io.load(out).training  # complete: the write is atomic
    done = survived["epoch"]
    assert done == 1
    resumed = subprocess.run(
        [*args, "--resume", "--format", "json"], capture_output=True, text=True, timeout=900
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["epochs"] == 2
    history = ckpt_io.load(out).training["history"]
    assert len(history) == 2
    assert history[:done] == survived["history"]  # the finished epochs were kept, not redone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors"]  # nothing left over
