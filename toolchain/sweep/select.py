"""The method's selection, as pure functions over trial records.

Per split point: keep the finished trials whose accuracy drop versus the backbone is
within the budget (percentage points: 3 means a drop of at most 0.03 in accuracy); if
none is, use the relaxed budget; among those kept take the fewest transmitted bits (ties:
the smaller accuracy drop, then the smaller T, then the trial id, so the choice is always
the same). Then the split point: the one with the least device energy, or the fewest
bits, over the split points that have a choice.

A trial record is a dict as written to ``trials/<id>.json`` (``sbn.sweep-trial/1``);
only ``id``, ``status``, ``trial.split``, ``trial.time_steps``, ``accuracy_drop``,
``transmitted_bits`` and (for the energy objective) ``energy.snn_mj`` are read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sbn.errors import ConfigError
from sbn.models import parse_split
from sbn.sweep.trial import SNN_PRESETS

OBJECTIVES = ("energy", "bits")
WITHIN = "within budget"
RELAXED = "relaxed"
NONE_QUALIFIED = "none qualified"
NO_RESULTS = "no finished trials"
# float arithmetic must not push a drop of exactly the budget out of it
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Selection:
    """How to choose: budgets in percentage points, objective, the preset energy is ranked on."""

    budget: float = 3.0
    relaxed_budget: float = 4.0
    objective: str = "energy"
    preset: str = "45nm"

    def __post_init__(self) -> None:
        if not self.budget >= 0:
            raise ConfigError(f"--budget must be >= 0 (percentage points), got {self.budget}")
        if not self.relaxed_budget >= self.budget:
            raise ConfigError(f"--relaxed-budget ({self.relaxed_budget}) must be >= --budget ({self.budget})")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.preset not in SNN_PRESETS:
            raise ConfigError(
                f"energy preset must be one of {', '.join(SNN_PRESETS)} (the "
                f"presets every trial is priced on), got {self.preset!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_pct": self.budget,
            "relaxed_budget_pct": self.relaxed_budget,
            "objective": self.objective,
            "energy_preset": self.preset,
        }


@dataclass(frozen=True)
class SplitChoice:
    """The outcome at one split point; ``trial`` is None unless something qualified, and
    ``closest`` (NONE_QUALIFIED only) is the finished trial with the smallest accuracy drop,
    reported over budget so that a failed search still shows how far off it was."""

    split: int
    status: str  # WITHIN, RELAXED, NONE_QUALIFIED or NO_RESULTS
    budget_pct: float | None  # the budget the choice was made under
    trial: Mapping[str, Any] | None
    finished: int
    failed: int
    closest: Mapping[str, Any] | None = None


def split_of(record: Mapping[str, Any]) -> int:
    return parse_split(record["trial"]["split"], 10_000)


def _key(record: Mapping[str, Any]) -> tuple:
    return (record["transmitted_bits"], record["accuracy_drop"], record["trial"]["time_steps"], record["id"])


def within(record: Mapping[str, Any], budget_pct: float) -> bool:
    return record["accuracy_drop"] <= budget_pct / 100.0 + _TOLERANCE


def select_split(split: int, records: Iterable[Mapping[str, Any]], selection: Selection) -> SplitChoice:
    """The choice at ``split`` among ``records`` (records of other splits are ignored)."""
    here = [r for r in records if split_of(r) == split]
    ok = [r for r in here if r.get("status") == "ok"]
    failed = sum(r.get("status") == "failed" for r in here)
    if not ok:
        return SplitChoice(split, NO_RESULTS, None, None, 0, failed)
    for status, budget in ((WITHIN, selection.budget), (RELAXED, selection.relaxed_budget)):
        kept = [r for r in ok if within(r, budget)]
        if kept:
            return SplitChoice(split, status, budget, min(kept, key=_key), len(ok), failed)
    closest = min(ok, key=lambda r: (r["accuracy_drop"], *_key(r)))
    return SplitChoice(split, NONE_QUALIFIED, None, None, len(ok), failed, closest)


def select_splits(
    splits: Sequence[int], records: Iterable[Mapping[str, Any]], selection: Selection
) -> list[SplitChoice]:
    records = list(records)
    return [select_split(k, records, selection) for k in sorted(set(splits))]


def device_mj(record: Mapping[str, Any], preset: str) -> float | None:
    energy = record.get("energy") or {}
    return (energy.get("snn_mj") or {}).get(preset)


def choose(choices: Sequence[SplitChoice], selection: Selection) -> SplitChoice | None:
    """The split point to deploy: least device energy (ties: fewer bits) or fewest bits
    (ties: less energy); then the smaller accuracy drop and the earlier split. None when
    no split point has a choice. A trial without an energy figure ranks last on energy."""
    candidates = [c for c in choices if c.trial is not None]
    if not candidates:
        return None

    def energy(c: SplitChoice) -> float:
        value = device_mj(c.trial, selection.preset)
        return float("inf") if value is None else value

    def key(c: SplitChoice) -> tuple:
        bits = c.trial["transmitted_bits"]
        first = (energy(c), bits) if selection.objective == "energy" else (bits, energy(c))
        return (*first, c.trial["accuracy_drop"], c.split)

    return min(candidates, key=key)


def pareto(choices: Sequence[SplitChoice], preset: str) -> set[int]:
    """Split points whose choice no other beats on both device energy and bits."""
    points = {
        c.split: (device_mj(c.trial, preset), c.trial["transmitted_bits"])
        for c in choices
        if c.trial is not None and device_mj(c.trial, preset) is not None
    }

    def dominated(e: float, b: int) -> bool:
        return any(e2 <= e and b2 <= b and (e2 < e or b2 < b) for e2, b2 in points.values())

    return {k for k, (e, b) in points.items() if not dominated(e, b)}
