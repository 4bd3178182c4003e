"""Running a sweep: open the folder, skip finished trials, fan the rest out, record each.

The library prints nothing: ``on_start(total, to_run)`` and ``on_trial(record)`` let a
front end draw progress. Records are written here, in the calling process, as each trial
ends; workers write only their trial's checkpoint (so with a multi-machine Ray cluster the
sweep folder must be on a file system every node sees).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sbn import __version__
from sbn.distributed import Outcome, fan_out
from sbn.sweep.grid import TrialSpec
from sbn.sweep.plan import SweepPlan
from sbn.sweep.store import SweepDir
from sbn.sweep.trial import TRIAL_SCHEMA, TrialJob, run_trial


@dataclass(frozen=True)
class SweepRun:
    plan: SweepPlan
    ran: list[dict[str, Any]]      # records of the trials run this time
    skipped: list[str]             # ids already finished before this run
    not_retried: list[str]         # ids that failed on bad input before (see retry_failed)


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
    """
    folder = SweepDir(out)
    plan = folder.open(plan, resume)
    trials = plan.grid.trials(plan.num_blocks)
    records = folder.records()
    finished = {i for i, r in records.items() if r["status"] == "ok"}
    hopeless = {i for i, r in records.items()
                if r["status"] == "failed" and r.get("permanent") and not retry_failed}
    todo = [t for t in trials if t.id not in finished | hopeless]
    if on_start:
        on_start(len(trials), len(todo))
    threads = None if workers == 0 else 1
    jobs = [_job(folder, plan, spec, data_dir, threads) for spec in todo]
    ran: list[dict[str, Any]] = []

    def record(outcome: Outcome) -> None:
        rec = trial_record(todo[outcome.index], outcome, folder)
        folder.write_record(rec)
        ran.append(rec)
        if on_trial:
            on_trial(rec)

    fan_out(trial_fn, jobs, workers=workers, address=address, retries=retries, on_result=record)
    return SweepRun(plan=plan, ran=ran, skipped=[t.id for t in trials if t.id in finished],
                    not_retried=[t.id for t in trials if t.id in hopeless])


def _job(folder: SweepDir, plan: SweepPlan, spec: TrialSpec, data_dir, threads) -> TrialJob:
    return TrialJob(
        spec=spec, backbone=str(plan.backbone),
        checkpoint=str(folder.checkpoint(spec.id).resolve()),
        settings=plan.train.to_dict(), kernel_size=plan.kernel_size,
        rates_samples=plan.rates_samples,
        data_dir=None if data_dir is None else str(Path(data_dir).resolve()), threads=threads,
    )


def trial_record(spec: TrialSpec, outcome: Outcome, folder: SweepDir) -> dict[str, Any]:
    """The ledger entry (``sbn.sweep-trial/1``) of one trial's last attempt."""
    record: dict[str, Any] = {
        "schema": TRIAL_SCHEMA, "producer": f"sbn {__version__}", "id": spec.id,
        "trial": spec.to_dict(), "status": "ok" if outcome.ok else "failed",
        "attempts": outcome.attempts, "seconds": outcome.seconds,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if outcome.ok:
        record["checkpoint"] = str(folder.checkpoint(spec.id).relative_to(folder.path))
        record.update(outcome.value)
    else:
        record.update(error=outcome.error, error_type=outcome.error_type,
                      permanent=outcome.permanent)
    return record

