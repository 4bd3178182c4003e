"""Running a sweep: open the folder, skip finished trials, fan the rest out, record each.

The library prints nothing: ``on_start(total, to_run)`` and ``on_trial(record)`` let a
front end draw progress. Records are written here, in the calling process, as each trial
ends; workers write only their trial's checkpoint (so with a multi-machine Ray cluster the
sweep folder must be on a file system every node sees).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbn import __version__
from sbn.distributed import Outcome, fan_out
from sbn.sweep.grid import TrialSpec
from sbn.sweep.plan import SweepPlan
from sbn.sweep.store import SweepDir
from sbn.sweep.trial import TRIAL_SCHEMA, TrialJob, run_trial


@dataclass(frozen=True)
class SweepRun:
    plan: SweepPlan
    ran: list[dict[str, Any]]  # records of the trials run this time
    skipped: list[str]  # ids already finished before this run
    not_retried: list[str]  # ids that failed on bad input before (see retry_failed)
    lost: tuple[str, ...] = ()  # finished, but their checkpoint went missing or changed


def run_sweep(
    out: str | os.PathLike,
    plan: SweepPlan,
    *,
    resume: bool = False,
    workers: int | None = None,
    address: str | None = None,
    retries: int = 1,
    retry_failed: bool = False,
    data_dir: str | os.PathLike | None = None,
    device: str = "auto",
    gpus_per_trial: float = 0,
    trial_fn: Callable[[TrialJob], dict[str, Any]] = run_trial,
    on_start: Callable[[int, int], None] | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> SweepRun:
    """Run every trial of ``plan`` not yet finished in ``out``.

    workers: 0 runs the trials one by one in this process (no Ray); N >= 1 runs up to N at
    once on Ray (None: as many as there are cores), each worker with one torch thread.
    Failed trials are recorded with their error and tried again by the next run, except
    those that failed on bad input (an ``SbnError``: they would fail the same way) unless
    ``retry_failed``; finished trials never are.

    device: where each trial trains and measures, resolved in the process that runs it (a
    Ray task sees only the GPUs Ray gave it, none without ``gpus_per_trial``).
    gpus_per_trial: Ray GPUs per trial: below 1 trials share a GPU (0.5 puts two on each);
    a whole number N > 1 trains each trial data-parallel over its N GPUs (one rank per GPU,
    ``sbn.sweep.trial_ranks``).
    """
    _check_device(device, gpus_per_trial, workers, plan.train.precision)
    folder = SweepDir(out)
    plan = folder.open(plan, resume)
    trials = plan.grid.trials(plan.num_blocks)
    records = folder.records()
    lost = sorted(i for i, r in records.items() if r.get("checkpoint_lost"))
    for trial_id in lost:  # its rerun must not resume from the changed file
        folder.set_aside_lost_checkpoint(trial_id)
    finished = {i for i, r in records.items() if r["status"] == "ok"}
    hopeless = {
        i for i, r in records.items() if r["status"] == "failed" and r.get("permanent") and not retry_failed
    }
    todo = [t for t in trials if t.id not in finished | hopeless]
    if on_start:
        on_start(len(trials), len(todo))
    threads = None if workers == 0 else 1
    ranks = int(gpus_per_trial) if gpus_per_trial > 1 else 1
    jobs = [_job(folder, plan, spec, data_dir, threads, device, ranks) for spec in todo]
    ran: list[dict[str, Any]] = []

    def record(outcome: Outcome) -> None:
        rec = trial_record(todo[outcome.index], outcome, folder)
        folder.write_record(rec)
        ran.append(rec)
        if on_trial:
            on_trial(rec)

    fan_out(
        trial_fn,
        jobs,
        workers=workers,
        address=address,
        retries=retries,
        gpus_per_task=gpus_per_trial,
        on_result=record,
    )
    return SweepRun(
        plan=plan,
        ran=ran,
        skipped=[t.id for t in trials if t.id in finished],
        not_retried=[t.id for t in trials if t.id in hopeless],
        lost=tuple(lost),
    )


def _check_device(device: str, gpus_per_trial: float, workers: int | None, precision: str) -> None:
    """Refuse what cannot work before any trial starts (or anything is written)."""
    from sbn.device import parse_device, resolve_device
    from sbn.errors import ConfigError
    from sbn.train_precision import precision_for

    kind, index = parse_device(device)
    if gpus_per_trial > 1 and gpus_per_trial != int(gpus_per_trial):
        raise ConfigError(
            f"--gpus-per-trial {gpus_per_trial:g}: a trial shares one GPU (a fraction "
            f"below 1: 0.5 puts two trials on it) or trains on whole GPUs (1, 2, 3, ...)"
        )
    if gpus_per_trial and index is not None:
        raise ConfigError(
            f"--device cuda:{index} with --gpus-per-trial: Ray shows each trial only the "
            f"GPUs it gave it, numbered from 0; give --device cuda (or auto)"
        )
    if gpus_per_trial and workers == 0:
        raise ConfigError(
            "--gpus-per-trial asks Ray for GPUs; with --workers 0 the trials run in this process on --device"
        )
    if gpus_per_trial and kind == "cpu":
        raise ConfigError("--gpus-per-trial with --device cpu: give --device auto or cuda")
    if workers == 0:  # this process runs the trials: it must have the device
        precision_for(precision, resolve_device(device))


def _job(
    folder: SweepDir, plan: SweepPlan, spec: TrialSpec, data_dir, threads, device: str, ranks: int
) -> TrialJob:
    return TrialJob(
        spec=spec,
        backbone=str(plan.backbone),
        checkpoint=str(folder.checkpoint(spec.id).resolve()),
        settings=plan.train.to_dict(),
        kernel_size=plan.kernel_size,
        rates_samples=plan.rates_samples,
        data_dir=None if data_dir is None else str(Path(data_dir).resolve()),
        threads=threads,
        device=device,
        ranks=ranks,
    )


def trial_record(spec: TrialSpec, outcome: Outcome, folder: SweepDir) -> dict[str, Any]:
    """The ledger entry (``sbn.sweep-trial/1``) of one trial's last attempt."""
    record: dict[str, Any] = {
        "schema": TRIAL_SCHEMA,
        "producer": f"sbn {__version__}",
        "id": spec.id,
        "trial": spec.to_dict(),
        "status": "ok" if outcome.ok else "failed",
        "attempts": outcome.attempts,
        "seconds": outcome.seconds,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if outcome.ok:
        record["checkpoint"] = str(folder.checkpoint(spec.id).relative_to(folder.path))
        record.update(outcome.value)
    else:
        record.update(error=outcome.error, error_type=outcome.error_type, permanent=outcome.permanent)
    return record
