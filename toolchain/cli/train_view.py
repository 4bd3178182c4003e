"""How ``sbn train`` looks on a terminal: rich progress bars and the summary table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sbn.cli.report_output import console
from sbn.train import EpochResult
from sbn.train import Progress as ProgressCallbacks


class RichProgress(ProgressCallbacks):
    """Training callbacks drawing an epoch bar and a batch bar on stderr."""

    def __init__(self, epochs: int, done: int = 0) -> None:
        super().__init__(
            on_epoch_start=self._epoch_start,
            on_batch=self._batch,
            on_epoch_end=self._epoch_end,
            on_eval_start=self._eval_start,
            on_eval_batch=self._eval_batch,
        )
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        # a resumed run starts at the epochs it already has, not at 0
        self._epochs = self._bars.add_task("epochs", total=epochs, completed=done, info="")
        self._batches = None
        self._loss = self._acc = 0.0
        self._seen = 0

    def __enter__(self) -> RichProgress:
        self._bars.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._bars.__exit__(*exc)

    def _epoch_start(self, epoch: int, batches: int) -> None:
        self._bars.update(self._epochs, completed=epoch)
        self._replace_batch_task(f"epoch {epoch + 1}", batches)
        self._loss = self._acc = 0.0
        self._seen = 0

    def _batch(self, loss: float, accuracy: float) -> None:
        self._seen += 1
        # running means over the epoch so far: steadier to read than the last batch
        self._loss += (loss - self._loss) / self._seen
        self._acc += (accuracy - self._acc) / self._seen
        self._bars.update(self._batches, advance=1, info=f"loss {self._loss:.3f}  acc {self._acc:.1%}")

    def _eval_start(self, what: str, batches: int) -> None:
        self._replace_batch_task(f"{what} eval", batches)

    def _eval_batch(self) -> None:
        self._bars.update(self._batches, advance=1)

    def _epoch_end(self, result: EpochResult) -> None:
        self._bars.update(
            self._epochs,
            completed=result.epoch,
            info=f"test acc {result.test_accuracy:.1%} (train loss {result.train_loss:.3f})",
        )

    def _replace_batch_task(self, description: str, total: int) -> None:
        if self._batches is not None:
            self._bars.remove_task(self._batches)
        self._batches = self._bars.add_task(description, total=total, info="")


def render_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"sbn train: {summary['arch']}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("checkpoint", summary["checkpoint"])
    table.add_row("epochs", str(summary["epochs"]))
    quantised = summary.get("quantized_for")
    accuracy = f"{summary['accuracy']:.2%} (best {summary['best_accuracy']:.2%})"
    if quantised is None:
        table.add_row("test accuracy", accuracy)
    else:  # what the fine-tune gained: the starting model in float, then rounded, then after
        table.add_row("quantised for", quantised)
        table.add_row("float accuracy (before)", _percent(summary.get("float_accuracy")))
        table.add_row("rounded, before the fine-tune", _percent(summary.get("quantized_accuracy_before")))
        table.add_row("rounded, after (test accuracy)", accuracy)
    if "split" in summary:
        table.add_row("split", summary["split"])
        if summary.get("backbone_accuracy") is not None:
            table.add_row("backbone accuracy", f"{summary['backbone_accuracy']:.2%}")
            table.add_row("accuracy drop", f"{100 * summary['accuracy_drop']:+.2f} points")
        table.add_row(
            "payload [T, C', H', W']" if len(summary["payload_shape"]) == 4 else "payload [C', H', W']",
            "x".join(map(str, summary["payload_shape"])),
        )
        table.add_row("transmitted bits / sample", f"{summary['transmitted_bits']:,}")
        table.add_row("raw bits / sample", f"{summary['raw_bits']:,}")
        table.add_row("compression ratio", f"{summary['compression_ratio']:.1f}x")
    table.add_row("time", f"{summary['seconds']:.0f} s")
    console().print(table)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"
