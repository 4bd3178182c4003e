"""What a sweep trains: the backbone, the grid and the training settings.

Everything but the grid and the backbone's location is the sweep's *identity*: a trial's
checkpoint and results are only reusable under the same backbone (by content), training
settings, encoder kernel and firing-rate sample count. The grid may grow between runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbn.errors import ConfigError
from sbn.sweep.grid import Grid
from sbn.train import TrainSettings

DEFAULT_RATES_SAMPLES = 32


@dataclass(frozen=True)
class SweepPlan:
    backbone: Path
    backbone_sha256: str
    num_blocks: int
    grid: Grid
    train: TrainSettings
    kernel_size: int = 3
    rates_samples: int = DEFAULT_RATES_SAMPLES

    def __post_init__(self) -> None:
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel size must be odd and >= 1, got {self.kernel_size}")
        if self.rates_samples < 1:
            raise ConfigError(f"rates samples must be >= 1, got {self.rates_samples}")

    def identity(self) -> dict[str, Any]:
        """The fields that must not change when a sweep is resumed."""
        return {
            "backbone_sha256": self.backbone_sha256,
            "kernel_size": self.kernel_size,
            "rates_samples": self.rates_samples,
            **self.train.to_dict(),
        }

    def changed(self, other: SweepPlan) -> list[str]:
        mine, theirs = self.identity(), other.identity()
        return sorted(k for k in mine if mine[k] != theirs.get(k))

    def options(self) -> dict[str, Any]:
        """The ``sbn sweep`` option values (by parameter name, the grid's axes as lists) that
        make this plan: what a resumed sweep takes where it is given nothing else."""
        return {
            "backbone": self.backbone,
            "kernel_size": self.kernel_size,
            "rates_samples": self.rates_samples,
            **self.train.to_dict(),
            **self.grid.to_dict(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "backbone": str(self.backbone),
            "backbone_sha256": self.backbone_sha256,
            "num_blocks": self.num_blocks,
            "grid": self.grid.to_dict(),
            "train": self.train.to_dict(),
            "kernel_size": self.kernel_size,
            "rates_samples": self.rates_samples,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SweepPlan:
        try:
            return cls(
                backbone=Path(d["backbone"]),
                backbone_sha256=d["backbone_sha256"],
                num_blocks=int(d["num_blocks"]),
                grid=Grid.from_dict(d["grid"], int(d["num_blocks"])),
                train=TrainSettings.from_dict(d["train"]),
                kernel_size=int(d["kernel_size"]),
                rates_samples=int(d["rates_samples"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed sweep plan: {exc}") from None


def make_sweep_plan(
    backbone: str | Path,
    *,
    splits: Any,
    channels: Any,
    strides: Any = (1, 2),
    time_steps: Any = (2, 4),
    strides_everywhere: bool = False,
    train: TrainSettings,
    kernel_size: int = 3,
    rates_samples: int = DEFAULT_RATES_SAMPLES,
) -> SweepPlan:
    """A plan for the step-1 checkpoint ``backbone``; ``splits`` may be "all", "RB1,RB7"
    or a list, the other axes comma-separated strings or lists of integers."""
    from sbn import checkpoint as ckpt_io
    from sbn.sweep.grid import parse_ints, parse_splits

    path = Path(backbone).resolve()
    config = ckpt_io.load(path).config
    if config.bottleneck is not None:
        raise ConfigError(
            f"{backbone}: the sweep starts from a backbone checkpoint; this one "
            f"already has a bottleneck at {config.bottleneck.split_name}"
        )
    if config.kind != "spiking":
        raise ConfigError(
            f"{backbone}: the sweep searches SpikeBottleNet bottlenecks and needs "
            f"a spiking backbone, not the real-valued {config.arch}"
        )
    grid = Grid(
        splits=parse_splits(splits, config.num_blocks),
        channels=parse_ints(channels, "channels"),
        strides=parse_ints(strides, "strides"),
        time_steps=parse_ints(time_steps, "T"),
        strides_everywhere=strides_everywhere,
    )
    bad_t = [t for t in grid.time_steps if not 1 <= t <= 8]
    if bad_t:
        raise ConfigError(f"T must be in 1..8 (the method uses 2 and 4), got {bad_t[0]}")
    grid.trials(config.num_blocks)  # every split gets trials, or a clear error now
    return SweepPlan(
        backbone=path,
        backbone_sha256=ckpt_io.file_sha256(path),
        num_blocks=config.num_blocks,
        grid=grid,
        train=train,
        kernel_size=kernel_size,
        rates_samples=rates_samples,
    )


def check_dataset(plan: SweepPlan, data_dir: str | Path | None) -> None:
    """Fail now, not in every trial, when the dataset does not fit the backbone."""
    from sbn import checkpoint as ckpt_io
    from sbn.data import check_fits, load_dataset

    config = ckpt_io.load(plan.backbone).config
    data = load_dataset(plan.train.dataset, root=data_dir, train=False)
    check_fits(config, plan.train.dataset, data.image_shape, data.num_classes, model="the backbone")
