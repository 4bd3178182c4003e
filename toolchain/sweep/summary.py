"""The result of a sweep: one row per split point and the chosen partition.

``summarise`` reads the ledger (it never trains), so it can be rerun at any time with
another budget or objective. It writes ``summary.json`` (schema ``sbn.sweep/1``) and
copies the chosen trial's checkpoint to ``chosen.safetensors``, ready for ``sbn export``.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import Any

from sbn import __version__
from sbn.checkpoint import file_sha256
from sbn.fileio import atomic_path, read_document, write_json
from sbn.models.config import split_label
from sbn.sweep.select import Selection, SplitChoice, choose, device_mj, pareto, select_splits
from sbn.sweep.store import SweepDir
from sbn.sweep.trial import ANN_PRESET, SNN_PRESETS

SUMMARY_SCHEMA = "sbn.sweep/1"
SUMMARY_FILE = "summary.json"
CHOSEN_FILE = "chosen.safetensors"
UNITS = {
    "bits": "per sample, all T time steps (1 bit per spike slot; BottleNet++: 8 bits per value)",
    "accuracy": "top-1 in [0, 1] on the sweep's test samples; drop = backbone (same T) - trial",
    "energy": "mJ per inference of one sample, device side, cumulative RB1..RBk",
}


def summarise(out: str | os.PathLike, selection: Selection) -> dict[str, Any]:
    """Select from the ledger in ``out``; write summary.json and chosen.safetensors."""
    folder = SweepDir(out)
    plan = folder.load_plan()
    planned = {t.id for t in plan.grid.trials(plan.num_blocks)}
    records = [r for i, r in folder.records().items() if i in planned]
    choices = select_splits(plan.grid.splits, records, selection)
    chosen = choose(choices, selection)
    front = pareto(choices, selection.preset)
    rows = [_row(c, chosen, front) for c in choices]
    finished = sum(r["status"] == "ok" for r in records)
    failed = [{"id": r["id"], "error": r.get("error")} for r in records if r["status"] == "failed"]
    summary: dict[str, Any] = {
        "schema": SUMMARY_SCHEMA,
        "producer": f"sbn {__version__}",
        "sweep_dir": str(folder.path),
        "backbone": str(plan.backbone),
        "backbone_sha256": plan.backbone_sha256,
        "grid": plan.grid.to_dict(),
        "train": plan.train.to_dict(),
        "kernel_size": plan.kernel_size,
        "selection": selection.to_dict(),
        "energy_presets": {
            "snn": list(SNN_PRESETS),
            "ann": ANN_PRESET,
            "rates": f"measured on {plan.rates_samples} test samples with each trial's own model",
        },
        "units": UNITS,
        "trials": {
            "planned": len(planned),
            "finished": finished,
            "failed": len(failed),
            "pending": len(planned) - finished - len(failed),
        },
        "rows": rows,
        "failed": failed,
        "chosen": _chosen(folder, chosen, selection),
    }
    write_json(folder.path / SUMMARY_FILE, summary)
    return summary


def _row(c: SplitChoice, chosen: SplitChoice | None, front: set[int]) -> dict[str, Any]:
    # where nothing qualified, the closest trial's figures, flagged over_budget
    t = c.trial or c.closest or {}
    spec = t.get("trial", {})
    energy = t.get("energy") or {}
    row = {
        "split": split_label(c.split),
        "status": c.status,
        "budget_used_pct": c.budget_pct,
        "over_budget": c.closest is not None,
        "trial": t.get("id"),
        "time_steps": spec.get("time_steps"),
        "channels": spec.get("channels"),
        "stride": spec.get("stride"),
        "payload_shape": t.get("payload_shape"),
        "transmitted_bits": t.get("transmitted_bits"),
        "baseline_bits": t.get("baseline_bits"),
        "reduction_vs_bottlenetpp_pct": t.get("reduction_vs_bottlenetpp_pct"),
        "raw_bits": t.get("raw_bits"),
        "compression_ratio": t.get("compression_ratio"),
        "accuracy": t.get("accuracy"),
        "backbone_accuracy": t.get("backbone_accuracy"),
        "accuracy_drop": t.get("accuracy_drop"),
    }
    for preset in SNN_PRESETS:
        row[f"device_energy_{preset}_mj"] = device_mj(t, preset) if t else None
    row["baseline_energy_mj"] = energy.get("ann_mj")
    row.update(
        checkpoint=t.get("checkpoint"),
        trials_finished=c.finished,
        trials_failed=c.failed,
        pareto=c.split in front,
        chosen=chosen is not None and chosen.split == c.split,
    )
    return row


def _chosen(folder: SweepDir, chosen: SplitChoice | None, selection: Selection) -> dict | None:
    target = folder.path / CHOSEN_FILE
    if chosen is None:
        target.unlink(missing_ok=True)  # a stale choice must not look current
        return None
    source = folder.path / chosen.trial["checkpoint"]
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    export_dir = folder.path / "export"
    return {
        "split": split_label(chosen.split),
        "trial": chosen.trial["id"],
        "objective": selection.objective,
        "checkpoint": CHOSEN_FILE,
        "checkpoint_sha256": file_sha256(target),
        "export_command": shlex.join(["sbn", "export", str(target), "--out", str(export_dir)]),
    }


def read_summary(path: str | os.PathLike) -> dict[str, Any]:
    """A summary.json (a sweep folder or the file itself), schema-checked."""
    path = Path(path)
    return read_document(path / SUMMARY_FILE if path.is_dir() else path, SUMMARY_SCHEMA, "a sweep summary")
