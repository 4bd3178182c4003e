"""A trial's fine-tune over several GPUs: data-parallel ranks started inside its worker.

Ray gives a trial of ``sbn sweep --gpus-per-trial N`` its N GPUs; ``train_on_ranks`` starts
one process per GPU with the variables torchrun would set (RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR/MASTER_PORT on 127.0.0.1 and a free port), so each rank is an ordinary
``sbn.train_ddp`` rank: its share of every batch, tdBN statistics over all ranks, rank 0
alone writing the checkpoint. On the CPU the ranks use gloo (how the tests run them).

A rank that fails writes its error to a file, which becomes the trial's error (an
``SbnError`` stays one, so bad input is not retried); the other ranks are stopped at once
rather than left waiting in a collective. An interrupted or cancelled trial stops its ranks
before it unwinds: SIGTERM, then SIGKILL after ``STOP_GRACE_S``.

    python -m sbn.sweep.trial_ranks JOB.json ERRORS_DIR     # one rank (started through _LAUNCH)
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from sbn import errors
from sbn.errors import ConfigError
from sbn.parent_death import die_with
from sbn.sweep.trial import TrialJob

STOP_GRACE_S = 10.0
POLL_S = 0.2
PARENT = "SBN_TRIAL_PARENT_PID"
#: a rank's start: it dies with the trial's worker (a node lost, a worker killed after its
#: cancel grace) from its first line, not only once torch and the toolchain have loaded,
#: which takes seconds on a busy machine; then this module runs as ``__main__``
_LAUNCH = (
    "import os, runpy\n"
    "from sbn.parent_death import die_with\n"
    f"die_with(int(os.environ[{PARENT!r}]))\n"
    "runpy.run_module('sbn.sweep.trial_ranks', run_name='__main__', alter_sys=True)\n"
)


def train_on_ranks(job: TrialJob, device: torch.device) -> None:
    """Train ``job`` data-parallel over ``job.ranks`` processes on ``device``'s kind (GPU
    ``r`` of those this process sees for rank ``r``, or the CPU); return when all are done."""
    if device.type == "cuda" and torch.cuda.device_count() < job.ranks:
        raise ConfigError(
            f"trial {job.spec.id} trains on {job.ranks} GPUs but its worker sees "
            f"{torch.cuda.device_count()} (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')!r})"
        )
    with tempfile.TemporaryDirectory(prefix="sbn-trial-ranks-") as tmp:
        folder = Path(tmp)
        job_file = folder / "job.json"
        job_file.write_text(json.dumps({**job.to_dict(), "device": device.type}))
        port = _free_port()
        ranks = [
            subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, str(job_file), str(folder)],
                env=_rank_environment(rank, job.ranks, port),
                stdin=subprocess.DEVNULL,
            )
            for rank in range(job.ranks)
        ]
        try:
            failed = _wait(ranks)
        finally:
            _stop(ranks)
        if failed:
            raise _rank_error(folder, failed, job)
    _check_finished(job)


def _check_finished(job: TrialJob) -> None:
    """All ranks exited 0, so rank 0 must have written the whole run: the trial's summary
    would otherwise train in one process, silently."""
    from sbn import checkpoint as ckpt_io

    epochs = job.settings["epochs"]
    done = ckpt_io.load(job.checkpoint).training.get("epoch") if Path(job.checkpoint).is_file() else None
    if done != epochs:
        raise RuntimeError(f"the {job.ranks} ranks of trial {job.spec.id} ended at epoch {done} of {epochs}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_environment(rank: int, world: int, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(world),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        PARENT: str(os.getpid()),
    }


def _wait(ranks: list[subprocess.Popen]) -> dict[int, int]:
    """Until every rank has exited 0 ({}) or one has failed ({rank: exit code} of those)."""
    while True:
        codes = [p.poll() for p in ranks]
        failed = {r: code for r, code in enumerate(codes) if code not in (None, 0)}
        if failed or all(code == 0 for code in codes):
            return failed
        time.sleep(POLL_S)


def _stop(ranks: list[subprocess.Popen]) -> None:
    """No rank outlives the trial: SIGTERM, SIGKILL after the grace."""
    running = [p for p in ranks if p.poll() is None]
    for p in running:
        with contextlib.suppress(ProcessLookupError):
            p.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for p in running:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _rank_error(folder: Path, failed: dict[int, int], job: TrialJob) -> Exception:
    """The first error a rank reported (the others usually fail because it did)."""
    reports = sorted((json.loads(f.read_text()) for f in folder.glob("rank*.json")), key=lambda r: r["time"])
    if not reports:  # killed before it could say why (out of memory, a signal)
        rank, code = min(failed.items())
        return RuntimeError(f"rank {rank} of {job.ranks} exited with code {code} and no error report")
    first = reports[0]
    message = f"rank {first['rank']} of {job.ranks}: {first['message']}"
    cls = getattr(errors, first["type"], None)
    if isinstance(cls, type) and issubclass(cls, errors.SbnError):
        return cls(message)
    return RuntimeError(f"{first['type']}: {message}")


def _rank_main(job_file: str, folder: str) -> int:
    """One rank: train its share of the trial, or report why it could not."""
    from sbn.sweep.trial import fine_tune
    from sbn.train import Runtime
    from sbn.train_ddp import process_group, ranks_from_environment

    die_with(int(os.environ.get(PARENT, os.getppid())))  # armed already when started by _LAUNCH
    ranks = ranks_from_environment()
    try:
        job = TrialJob.from_dict(json.loads(Path(job_file).read_text()))
        if job.threads is not None:
            torch.set_num_threads(job.threads)
        device = torch.device("cuda", ranks.local_rank) if job.device == "cuda" else torch.device("cpu")
        with process_group(ranks, device):
            fine_tune(job, Runtime(device=device, ranks=ranks))
    except BaseException as exc:  # whatever it was, the trial reports it
        report = {"rank": ranks.rank, "type": type(exc).__name__, "message": str(exc), "time": time.time()}
        path = Path(folder) / f"rank{ranks.rank}.json"
        path.with_suffix(".tmp").write_text(json.dumps(report))
        path.with_suffix(".tmp").replace(path)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_rank_main(*sys.argv[1:3]))
