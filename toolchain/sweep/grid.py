"""The design space of a sweep: split points x channel reductions x strides x T.

A trial is one point of it, named deterministically from its values ("RB7-c8-s1-T2"), so
that the same point always maps to the same files in the sweep folder. Following the
method, a spatial reduction (stride > 1) is tried only after the last block (RB16 of
ResNet50) unless ``strides_everywhere`` lifts that: the method found that only channel
reduction kept accuracy at RB1..RB15.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sbn.errors import ConfigError
from sbn.models import BottleneckConfig, parse_split, split_label

TRIAL_ID = re.compile(r"^RB(\d+)-c(\d+)-s(\d+)-T(\d+)$")
DEFAULT_STRIDES = (1, 2)
DEFAULT_TIME_STEPS = (2, 4)


@dataclass(frozen=True, order=True)
class TrialSpec:
    """One bottleneck to fine-tune: after RB ``split``, ``channels`` C', ``stride`` s, T."""

    split: int
    channels: int
    stride: int
    time_steps: int

    @property
    def id(self) -> str:
        return f"{split_label(self.split)}-c{self.channels}-s{self.stride}-T{self.time_steps}"

    @property
    def split_name(self) -> str:
        return split_label(self.split)

    def bottleneck(self, kernel_size: int = 3) -> BottleneckConfig:
        return BottleneckConfig(
            split=self.split, channels=self.channels, stride=self.stride, kernel_size=kernel_size
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split_name,
            "channels": self.channels,
            "stride": self.stride,
            "time_steps": self.time_steps,
        }

    @classmethod
    def from_id(cls, trial_id: str) -> TrialSpec:
        match = TRIAL_ID.match(trial_id)
        if match is None:
            raise ConfigError(f"{trial_id!r} is not a trial id (expected e.g. RB7-c8-s1-T2)")
        return cls(*(int(g) for g in match.groups()))


@dataclass(frozen=True)
class Grid:
    """The axes of the search. ``splits`` are block numbers (1-based)."""

    splits: tuple[int, ...]
    channels: tuple[int, ...]
    strides: tuple[int, ...] = DEFAULT_STRIDES
    time_steps: tuple[int, ...] = DEFAULT_TIME_STEPS
    strides_everywhere: bool = False

    def __post_init__(self) -> None:
        for name, low in (("splits", 1), ("channels", 1), ("strides", 1), ("time_steps", 1)):
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"the sweep needs at least one value for {name}")
            bad = [v for v in values if not isinstance(v, int) or isinstance(v, bool) or v < low]
            if bad:
                raise ConfigError(f"{name} must be integers >= {low}, got {bad[0]!r}")
            object.__setattr__(self, name, tuple(sorted(set(values))))

    def trials(self, num_blocks: int) -> list[TrialSpec]:
        """Every trial of the grid for a backbone of ``num_blocks`` blocks, in a fixed order.

        Strides > 1 go only to the last block unless ``strides_everywhere``; a split left
        without any trial is an error rather than silently missing from the results.
        """
        out = []
        for split in self.splits:
            if split > num_blocks:
                raise ConfigError(
                    f"unknown split {split_label(split)}: valid splits are RB1..{split_label(num_blocks)}"
                )
            strides = [s for s in self.strides if s == 1 or self.strides_everywhere or split == num_blocks]
            if not strides:
                raise ConfigError(
                    f"{split_label(split)} has no trials: strides {list(self.strides)} > 1 are tried only "
                    f"at {split_label(num_blocks)} (add 1 to --strides, or pass --strides-everywhere)"
                )
            out += [
                TrialSpec(split, c, s, t) for c in self.channels for s in strides for t in self.time_steps
            ]
        return out

    def union(self, other: Grid) -> Grid:
        """A grid holding both grids' values (a resumed sweep may only grow)."""
        return Grid(
            splits=self.splits + other.splits,
            channels=self.channels + other.channels,
            strides=self.strides + other.strides,
            time_steps=self.time_steps + other.time_steps,
            strides_everywhere=self.strides_everywhere or other.strides_everywhere,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "splits": [split_label(k) for k in self.splits],
            "channels": list(self.channels),
            "strides": list(self.strides),
            "time_steps": list(self.time_steps),
            "strides_everywhere": self.strides_everywhere,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], num_blocks: int) -> Grid:
        try:
            return cls(
                splits=parse_splits(d["splits"], num_blocks),
                channels=tuple(d["channels"]),
                strides=tuple(d["strides"]),
                time_steps=tuple(d["time_steps"]),
                strides_everywhere=bool(d.get("strides_everywhere", False)),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"malformed grid: {exc}") from None


def parse_splits(value: str | Iterable[Any], num_blocks: int) -> tuple[int, ...]:
    """ "all", "RB1,RB7,RB16", "1,7" or a list of names/numbers -> block numbers."""
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return tuple(range(1, num_blocks + 1))
        value = [v for v in value.split(",") if v.strip()]
    splits = tuple(parse_split(v, num_blocks) for v in value)
    if not splits:
        raise ConfigError("no split points given: use e.g. RB1,RB7,RB16 or all")
    return splits


def parse_ints(value: str | Iterable[Any], what: str) -> tuple[int, ...]:
    """ "4,8,16" or [4, 8, 16] -> (4, 8, 16), as a one-line error otherwise."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = tuple(int(str(p).strip()) for p in parts if str(p).strip())
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated integers, got {value!r}") from None
    if not numbers:
        raise ConfigError(f"{what}: no values given")
    return numbers
