"""``sbn sweep``: the method's design-space search, run as parallel trials on Ray.

    plan = SweepPlan(backbone=..., backbone_sha256=..., num_blocks=16,
                     grid=Grid(splits=(1, 7, 16), channels=(8, 16, 32)), train=TrainSettings(...))
    run_sweep("runs/sweep", plan, workers=4)          # trials -> runs/sweep/trials/
    summary = summarise("runs/sweep", Selection(budget=3.0, relaxed_budget=4.0))
    summary["rows"], summary["chosen"]["export_command"]

Modules: ``grid`` (the design space, trial ids), ``plan`` (what a sweep trains),
``trial`` (one fine-tune on a worker), ``store`` (the sweep folder and its ledger),
``runner`` (fan-out and resume), ``select`` (the method's choice, pure), ``summary``
(summary.json, chosen.safetensors), ``report`` (CSV/markdown), ``plots`` (figure).
"""

from sbn.sweep.grid import Grid, TrialSpec, parse_ints, parse_splits
from sbn.sweep.plan import SweepPlan, check_dataset, make_sweep_plan
from sbn.sweep.runner import SweepRun, run_sweep
from sbn.sweep.select import Selection, SplitChoice, choose, pareto, select_split, select_splits
from sbn.sweep.store import SweepDir
from sbn.sweep.summary import read_summary, summarise
from sbn.sweep.trial import TrialJob, run_trial

__all__ = [
    "Grid",
    "Selection",
    "SplitChoice",
    "SweepDir",
    "SweepPlan",
    "SweepRun",
    "TrialJob",
    "TrialSpec",
    "check_dataset",
    "choose",
    "make_sweep_plan",
    "pareto",
    "parse_ints",
    "parse_splits",
    "read_summary",
    "run_sweep",
    "run_trial",
    "select_split",
    "select_splits",
    "summarise",
]
