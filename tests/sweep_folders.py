"""A finished sweep folder made by hand (records and stand-in checkpoints, nothing trained),
for tests of what `sbn sweep --resume` reads, selects and shows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from sbn.checkpoint import file_sha256
from sbn.sweep import SweepDir, make_sweep_plan
from sbn.train import TrainSettings

QUICK = TrainSettings(epochs=1, train_samples=16, test_samples=8)


def finished_sweep(
    out: Path,
    backbone: Path,
    *,
    splits: str,
    channels: str,
    trials: Iterable[str],
    record: Callable[[str, str], dict],
) -> SweepDir:
    """The sweep of ``splits`` x ``channels`` (stride 1, T = 2) at ``out`` with ``trials``
    finished: ``record(trial_id, checkpoint_sha256)`` is each one's record."""
    folder = SweepDir(out)
    plan = make_sweep_plan(
        backbone, splits=splits, channels=channels, strides="1", time_steps="2", train=QUICK, rates_samples=1
    )
    folder.open(plan, resume=False)
    for trial_id in trials:
        checkpoint = folder.checkpoint(trial_id)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_bytes(f"a stand-in for {trial_id}'s checkpoint".encode())
        folder.write_record(record(trial_id, file_sha256(checkpoint)))
    return folder
