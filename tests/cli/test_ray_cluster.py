"""Issue 15: ``--address`` against a real Ray cluster of two nodes started with Ray's own CLI
(``ray start --head``, ``ray start --address``) on this machine. One node is killed while it
runs a chunk or a trial: the run must still complete, the lost work retried on the other node.

Both nodes have one CPU, so with two tasks in flight each node runs one. A node is killed as
a machine would fail: SIGKILL to its raylet, its workers and their Lava processes at once.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from processes import shm_segments

BIN = Path(sys.executable).parent
SBN, RAY = BIN / "sbn", BIN / "ray"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> set[int]:
    from sbn.targets.lava.runtime import child_pids

    return child_pids(pid) | {pid}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Cluster:
    """A head node and one more node, each `ray start --block` in its own process group
    (so that each can be killed whole and nothing else is touched)."""

    def __init__(self, root: Path):
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",  # Ray 2.60's default for clusters: every node and driver
            "RAY_AUTH_TOKEN": secrets.token_hex(32),  # needs the token
        }
        self.head = self._start(
            ["--head", f"--port={self.port}", f"--temp-dir={root}", "--include-dashboard=false"]
        )
        self._wait_for_nodes(1)
        self.node = self.add_node()
        self.orphaned: set[str] = set()

    def _start(self, args) -> subprocess.Popen:
        return subprocess.Popen(
            [str(RAY), "start", "--block", "--num-cpus=1", "--disable-usage-stats", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def add_node(self) -> subprocess.Popen:
        node = self._start([f"--address={self.address}"])
        self._wait_for_nodes(2)
        return node

    def _wait_for_nodes(self, n: int, seconds: float = 120) -> None:
        probe = (
            f"import ray; ray.init(address={self.address!r}, logging_level='ERROR');"
            "print(sum(1 for x in ray.nodes() if x['Alive']))"
        )
        deadline = time.time() + seconds
        while time.time() < deadline:
            done = subprocess.run(
                [sys.executable, "-c", probe], env=self.env, capture_output=True, text=True, timeout=120
            )
            if done.returncode == 0 and done.stdout.split()[-1:] == [str(n)]:
                return
            time.sleep(1)
        raise AssertionError(f"the Ray cluster did not reach {n} live node(s)")

    def busy_on_node(self) -> bool:
        """Whether a worker of the second node is running one of our tasks (Ray titles a
        worker process after the task it runs: ``ray::_call``)."""
        return any(_cmdline(p).startswith("ray::_call") for p in _tree(self.node.pid))

    def kill_node(self) -> None:
        # a dead machine takes its /dev/shm with it; this one shares ours: what the node's
        # Lava processes had mapped is removed when the cluster stops
        self.orphaned |= shm_segments(_tree(self.node.pid))
        os.killpg(self.node.pid, signal.SIGKILL)
        self.node.wait()

    def stop(self) -> None:
        for proc in (self.node, self.head):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # `ray start --block` stops its processes
        for proc in (self.node, self.head):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for name in self.orphaned:
            Path("/dev/shm", name).unlink(missing_ok=True)


@pytest.fixture
def cluster():
    root = Path(tempfile.mkdtemp(prefix="sbnray", dir="/tmp"))  # Ray's socket paths are short
    made = Cluster(root)
    try:
        yield made
    finally:
        made.stop()
        shutil.rmtree(root, ignore_errors=True)


def _run_killing_a_node(cluster: Cluster, args) -> subprocess.CompletedProcess:
    """Run ``sbn ARGS`` on the cluster; kill the second node once it runs a task."""
    run = subprocess.Popen(
        [str(SBN), *map(str, args), "--address", cluster.address],
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 300
    while not cluster.busy_on_node():
        assert run.poll() is None, "the run ended before the node got a task"
        assert time.time() < deadline, "the second node never got a task"
        time.sleep(0.05)
    cluster.kill_node()
    out, err = run.communicate(timeout=900)
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


def test_sim_survives_a_node_killed_mid_chunk(cluster, pristine, tmp_path):
    report = tmp_path / "sim.json"
    args = ["sim", pristine / "export", "--samples", "8", "--batch-size", "2", "--workers", "2"]
    # without the cluster's token: one line that says so, not a minute of Ray's retries
    env = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
    refused = subprocess.run(
        [str(SBN), *map(str, args), "--address", cluster.address], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"error: could not start the Ray cluster at {cluster.address}: ")
    assert "set RAY_AUTH_TOKEN" in line
    done = _run_killing_a_node(cluster, [*args, "--format", "json", "--out", report])
    assert done.returncode == 0, done.stderr
    assert "NodeDiedError" in done.stderr and "retrying" in done.stderr  # the chunk was lost
    result = json.loads(report.read_text())
    assert result["failed"] == []
    assert sorted(r["index"] for r in result["results"]) == list(range(8))


def test_sweep_survives_a_node_killed_mid_trial(cluster, tmp_path):
    from sbn.data import load_dataset
    from sbn.models import ModelConfig
    from sbn.train import TrainSettings, train

    backbone = tmp_path / "backbone.safetensors"
    tiny = ModelConfig(num_classes=10, width=0.0625, layers=(1, 1, 1, 1), time_steps=2)
    quick = TrainSettings(epochs=1, train_samples=64, test_samples=32)
    train(tiny, quick, load_dataset("digits", train=True), load_dataset("digits", train=False), backbone)
    out = tmp_path / "sweep"
    args = ["sweep", "--backbone", backbone, "--splits", "RB2,RB3", "--channels", "4", "--T", "2"]
    args += ["--epochs", "1", "--train-samples", "64", "--test-samples", "32", "--workers", "2", "--out", out]
    done = _run_killing_a_node(cluster, args)
    assert done.returncode == 0, done.stderr
    assert "NodeDiedError" in done.stderr and "retrying" in done.stderr  # the trial was lost
    trials = [json.loads(p.read_text()) for p in sorted((out / "trials").glob("*.json"))]
    assert [t["status"] for t in trials] == ["ok", "ok"], trials
    assert (out / "chosen.safetensors").exists()


def test_an_address_where_nothing_listens_is_one_line_at_once(pristine):
    """Ray retries an unreachable cluster for minutes, printing a line a second."""
    port = _free_port()  # closed again: nothing listens there
    start = time.monotonic()
    done = subprocess.run(
        [
            str(SBN),
            "sim",
            pristine / "export",
            "--samples",
            "2",
            "--workers",
            "1",
            "--address",
            f"127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.monotonic() - start < 30
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: could not reach the Ray cluster at 127.0.0.1:{port}: Connection refused "
        "(is `ray start --head` running there?)"
    ]
