"""The sweep folder: the plan (``sweep.json``) and the ledger of trials.

    SWEEP_DIR/sweep.json               sbn.sweep-state/1: the plan, grid included
    SWEEP_DIR/trials/<id>.safetensors  the trial's checkpoint (rewritten after every epoch)
    SWEEP_DIR/trials/<id>.json         sbn.sweep-trial/1: the trial's result, status ok|failed
    SWEEP_DIR/summary.json             sbn.sweep/1: the selection (see ``sbn.sweep.summary``)
    SWEEP_DIR/chosen.safetensors       a copy of the chosen trial's checkpoint

A trial is finished when its ``.json`` says ``"status": "ok"``; that file is written
atomically and only after its checkpoint is complete, so whatever point a sweep is
stopped at, the ledger never claims work that is not on disk.
"""

from __future__ import annotations

import functools
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from sbn import __version__
from sbn.errors import ConfigError
from sbn.fileio import MISSING as _MISSING
from sbn.fileio import is_finite_number, is_whole_number, read_document, write_json
from sbn.fileio import shown_json as _shown
from sbn.sweep.grid import TrialSpec
from sbn.sweep.plan import SweepPlan
from sbn.sweep.trial import TRIAL_SCHEMA

STATE_SCHEMA = "sbn.sweep-state/1"
STATE_FILE = "sweep.json"
TRIALS = "trials"


class SweepDir:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def state_file(self) -> Path:
        return self.path / STATE_FILE

    def exists(self) -> bool:
        return self.state_file.is_file()

    def checkpoint(self, trial_id: str) -> Path:
        return self.path / TRIALS / f"{trial_id}.safetensors"

    def record_file(self, trial_id: str) -> Path:
        return self.path / TRIALS / f"{trial_id}.json"

    # ---- the plan -----------------------------------------------------------------------
    def open(self, plan: SweepPlan, resume: bool) -> SweepPlan:
        """Start a sweep here, or continue the one here with ``plan``; return the plan in
        force (on resume: the stored one with the grid grown by ``plan``'s)."""
        if self.exists():
            if not resume:
                raise ConfigError(
                    f"{self.path} already holds a sweep: pass --resume to continue it "
                    f"(finished trials are kept), or choose another --out"
                )
            stored = self.load_plan()
            changed = stored.changed(plan)
            if changed:
                raise ConfigError(
                    f"{self.path}: cannot resume with other settings (changed: "
                    f"{', '.join(changed)}); use a new --out or the same options"
                )
            if stored.num_blocks != plan.num_blocks:
                raise ConfigError(f"{self.path}: the backbone has changed shape")
            plan = replace(plan, grid=stored.grid.union(plan.grid))
        elif self.path.exists() and any(self.path.iterdir()):
            raise ConfigError(f"{self.path} exists and is not a sweep folder: choose another --out")
        self.save_plan(plan)
        return plan

    def save_plan(self, plan: SweepPlan) -> None:
        write_json(
            self.state_file, {"schema": STATE_SCHEMA, "producer": f"sbn {__version__}", **plan.to_dict()}
        )

    def load_plan(self) -> SweepPlan:
        data = read_document(self.state_file, STATE_SCHEMA, "a sweep plan")
        return SweepPlan.from_dict(data)

    # ---- the ledger ---------------------------------------------------------------------
    def write_record(self, record: dict[str, Any]) -> None:
        write_json(self.record_file(record["id"]), record)

    def records(self) -> dict[str, dict[str, Any]]:
        """Every trial result on disk, by id (finished and failed).

        A finished trial whose checkpoint is missing, or is no longer the file the trial
        recorded (its sha256: truncated, replaced), reads as failed with ``checkpoint_lost``:
        it is never chosen, and the next run trains it again.
        """
        folder = self.path / TRIALS
        if not folder.is_dir():
            return {}
        out = {}
        for f in sorted(folder.glob("*.json")):
            record = read_document(f, TRIAL_SCHEMA, "a sweep trial record")
            _check_record(f, record)
            if record["status"] == "ok":
                record = self._verified(record)
            out[record["id"]] = record
        return out

    def _verified(self, record: dict[str, Any]) -> dict[str, Any]:
        path = self.path / record["checkpoint"]
        if not path.is_file():
            problem = f"its checkpoint {record['checkpoint']} is missing"
        elif _sha256(path) != record["checkpoint_sha256"]:
            problem = f"its checkpoint {record['checkpoint']} changed after the trial finished"
        else:
            return record
        return {
            **record,
            "status": "failed",
            "permanent": False,
            "checkpoint_lost": True,
            "error": f"{problem} (sha256 recorded {record['checkpoint_sha256'][:12]}...)",
        }

    def set_aside_lost_checkpoint(self, trial_id: str) -> Path | None:
        """Move a trial's changed checkpoint out of the way of its rerun (kept, not deleted:
        ``<id>.changed.safetensors``); returns where it went."""
        path = self.checkpoint(trial_id)
        if not path.is_file():
            return None
        aside = path.with_name(f"{trial_id}.changed.safetensors")
        os.replace(path, aside)
        return aside


def _check_record(path: Path, record: dict[str, Any]) -> None:
    """ConfigError naming the file and key of a ledger entry that cannot be trusted: every
    field the selection (``sbn.sweep.select``) and the summary read is checked here, so a
    damaged record is one line, never a traceback later."""
    fix = "delete it to run that trial again"
    if record.get("id") != path.stem:
        raise ConfigError(f"{path}: id {record.get('id')!r} is not the file's name {path.stem!r}; {fix}")
    if record.get("status") not in ("ok", "failed"):
        raise ConfigError(f"{path}: status {record.get('status')!r} is neither 'ok' nor 'failed'; {fix}")
    _check_spec(path, record, fix)
    if record["status"] == "failed":
        if not isinstance(record.get("error", ""), (str, type(None))):
            raise ConfigError(
                f"{path}: error is {_shown(record['error'])}; it must be a string (the failure) "
                f"or null; {fix}"
            )
        if not isinstance(record.get("permanent", False), bool):
            raise ConfigError(
                f"{path}: permanent is {_shown(record['permanent'])}; it must be true or false; {fix}"
            )
        return
    for key in ("checkpoint", "checkpoint_sha256"):
        if not isinstance(record.get(key), str):
            raise ConfigError(f"{path}: a finished trial without {key}; {fix}")
    if Path(record["checkpoint"]).is_absolute() or ".." in Path(record["checkpoint"]).parts:
        raise ConfigError(f"{path}: checkpoint {record['checkpoint']!r} lies outside the sweep folder; {fix}")
    for key in ("accuracy", "backbone_accuracy", "accuracy_drop"):
        _check_number(path, record, key, fix, required=True)
    if not _is_count(record.get("transmitted_bits")):
        raise ConfigError(
            f"{path}: transmitted_bits is {_shown(record.get('transmitted_bits', _MISSING))}; "
            f"it must be a whole number >= 0; {fix}"
        )
    for key in ("baseline_bits", "raw_bits"):
        if record.get(key) is not None and not _is_count(record[key]):
            raise ConfigError(
                f"{path}: {key} is {_shown(record[key])}; it must be a whole number >= 0 or null; {fix}"
            )
    for key in ("compression_ratio", "reduction_vs_bottlenetpp_pct"):
        _check_number(path, record, key, fix)
    shape = record.get("payload_shape")
    if shape is not None and not (isinstance(shape, list) and all(_is_count(n) for n in shape)):
        raise ConfigError(
            f"{path}: payload_shape is {_shown(shape)}; it must be a list of whole numbers or null; {fix}"
        )
    energy = record.get("energy")
    if energy is None:
        return
    if not isinstance(energy, dict):
        raise ConfigError(
            f"{path}: energy is {_shown(energy)}; it must be a table (a JSON object) or null; {fix}"
        )
    _check_number(path, energy, "ann_mj", fix, where="energy.")
    snn = energy.get("snn_mj")
    if snn is None:
        return
    if not isinstance(snn, dict):
        raise ConfigError(
            f"{path}: energy.snn_mj is {_shown(snn)}; it must be a table of mJ per preset "
            f"(a JSON object) or null; {fix}"
        )
    for preset in snn:
        _check_number(path, snn, preset, fix, where="energy.snn_mj.")


def _check_spec(path: Path, record: dict[str, Any], fix: str) -> None:
    """``trial`` (split, channels, stride, T) must be the point the record's id names."""
    try:
        expected = TrialSpec.from_id(record["id"]).to_dict()
    except ConfigError:
        raise ConfigError(
            f"{path}: id {record['id']!r} is not a trial id (expected e.g. RB7-c8-s1-T2); {fix}"
        ) from None
    spec = record.get("trial")
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{path}: trial is {_shown(spec)}; it must be a table (a JSON object) with split, "
            f"channels, stride and time_steps; {fix}"
        )
    for key, value in expected.items():
        if spec.get(key) != value or isinstance(spec.get(key), bool):
            raise ConfigError(
                f"{path}: trial.{key} is {_shown(spec.get(key, _MISSING))}, but the trial's id "
                f"{record['id']} says {_shown(value)}; {fix}"
            )


def _is_count(value: Any) -> bool:
    return is_whole_number(value) and value >= 0


def _check_number(
    path: Path, table: dict[str, Any], key: str, fix: str, *, required: bool = False, where: str = ""
) -> None:
    """A finite number at ``table[key]`` (or, unless ``required``, null or nothing)."""
    value = table.get(key)
    if is_finite_number(value) or (value is None and not required):
        return
    found = _shown(table.get(key, _MISSING))
    accepted = "a finite number" if required else "a finite number or null"
    raise ConfigError(f"{path}: {where}{key} is {found}; it must be {accepted}; {fix}")


@functools.lru_cache(maxsize=1024)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    from sbn.checkpoint import file_sha256

    return file_sha256(path)


def _sha256(path: Path) -> str:
    """sha256 of a file, computed once per (size, modification time): a sweep's ledger is
    read several times per run and full-width checkpoints take a while to hash."""
    st = path.stat()
    return _sha256_of(str(path), st.st_size, st.st_mtime_ns)
