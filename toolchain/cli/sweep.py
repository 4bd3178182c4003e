"""``sbn sweep``: the method's design-space search, trials in parallel on Ray.

    sbn sweep --backbone runs/backbone.safetensors --splits RB1,RB7,RB16 --channels 8,16,32 \\
              --strides 1,2 --T 2,4 --epochs 10 --out runs/sweep
    sbn sweep --out runs/sweep --resume                 # continue (the stored plan is reused)
    sbn sweep --out runs/sweep --resume --budget 2      # re-select only: nothing left to train
"""

from __future__ import annotations

from pathlib import Path

import click

from sbn.cli.bounds import (
    COUNT,
    KERNEL_SIZE,
    NON_NEGATIVE,
    POSITIVE,
    RETRIES,
    SEED,
    WORKERS,
)
from sbn.cli.report_output import FORMATS, choose_format, console, emit, note
from sbn.data import DATASETS


def _priced_preset(value: str | None) -> str | None:
    """``--preset`` must be one of the presets every trial is priced on (read from the energy
    package when used, so that ``--help`` does not load torch)."""
    from sbn.energy.presets import DEFAULT_SNN_PRESETS

    if value is not None and value not in DEFAULT_SNN_PRESETS:
        raise click.BadParameter(
            f"{value!r} is not one of {', '.join(DEFAULT_SNN_PRESETS)}", param_hint="'--preset'"
        )
    return value


DEFAULTS = {
    "strides": "1,2",
    "time_steps": "2,4",
    "strides_everywhere": False,
    "kernel_size": 3,
    "rates_samples": 32,
    "budget": 3.0,
    "relaxed_budget": 4.0,
    "objective": "energy",
    "preset": "45nm",
}
TRAIN_FIELDS = (
    "dataset",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "seed",
    "augment",
    "train_samples",
    "test_samples",
    "precision",
)


@click.command("sweep")
@click.option(
    "--out",
    "sweep_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Sweep folder: sweep.json, trials/, summary.json, chosen.safetensors.",
)
@click.option(
    "--backbone",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Step-1 checkpoint every trial fine-tunes from (sbn train without --from).",
)
@click.option(
    "--grid",
    "grid_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sweep file (TOML/JSON, schema sbn.sweep-grid/1); options given here win.",
)
@click.option("--splits", help="Split points: RB1,RB7,RB16 or all.")
@click.option("--channels", help="Encoder channels C' to try, e.g. 4,8,16.")
@click.option("--strides", help="Spatial reductions to try [1,2]; > 1 only at the last block.")
@click.option(
    "--strides-everywhere/--strides-last-only",
    default=None,
    help="Try strides > 1 at every split, not only after the last block.",
)
@click.option("--T", "--time-steps", "time_steps", help="Time steps to try [2,4].")
@click.option("--kernel-size", type=KERNEL_SIZE, help="Encoder/decoder kernel size [3].")
@click.option("--dataset", type=click.Choice(DATASETS), help="Fine-tuning data [digits].")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder holding the CIFAR release (visible to every worker).",
)
@click.option("--epochs", type=COUNT, help="Fine-tuning epochs per trial [10].")
@click.option("--batch-size", type=COUNT, help="[64]")
@click.option("--lr", type=POSITIVE, help="Peak learning rate [1e-3].")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), help="[adam]")
@click.option("--weight-decay", type=NON_NEGATIVE, help="[0]")
@click.option("--augment/--no-augment", default=None, help="[on for CIFAR, off for digits]")
@click.option("--train-samples", type=COUNT, help="Use the first N training images.")
@click.option("--test-samples", type=COUNT, help="Evaluate on the first N test images.")
@click.option("--seed", type=SEED, help="[0]")
@click.option(
    "--rates-samples", type=COUNT, help="Test images the firing rates (device energy) are measured on [32]."
)
@click.option("--budget", type=NON_NEGATIVE, help="Accuracy budget, percentage points [3].")
@click.option("--relaxed-budget", type=NON_NEGATIVE, help="Budget where nothing meets --budget [4].")
@click.option(
    "--objective",
    type=click.Choice(["energy", "bits"]),
    help="Choose the split point by least device energy or fewest bits [energy].",
)
@click.option(
    "--preset",
    callback=lambda ctx, param, value: _priced_preset(value),
    help="Energy preset the objective ranks on: one every trial is priced on (45nm, rolls) [45nm].",
)
@click.option("--workers", type=WORKERS, help="Trials at once on Ray; 0 runs them in this process [cores].")
@click.option("--address", help="An existing Ray cluster (e.g. auto or ray://host:10001).")
@click.option(
    "--device",
    "device_spec",
    default="auto",
    show_default=True,
    help="Where each trial trains: auto, cpu, cuda or cuda:N (resolved by the process that runs the trial).",
)
@click.option(
    "--gpus-per-trial",
    type=NON_NEGATIVE,
    default=0,
    show_default=True,
    help="Ray GPUs per trial: below 1 trials share a GPU (0.5: two on each); N > 1 trains each "
    "trial data-parallel on its N GPUs.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16", "fp16"]),
    help="Training-step arithmetic of every trial [fp32].",
)
@click.option(
    "--retries",
    type=RETRIES,
    default=1,
    show_default=True,
    help="Extra attempts for a trial that fails (not for bad configurations).",
)
@click.option(
    "--retry-failed", is_flag=True, help="Also rerun trials that failed on a bad configuration before."
)
@click.option("--resume", is_flag=True, help="Continue the sweep in --out; finished trials are kept.")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), help="Output format [table, or from the --report suffix]."
)
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the per-split table here (.json, .csv, .md) instead of stdout.",
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Bits and accuracy drop per split point (.png, .pdf or .svg).",
)
def sweep(
    sweep_dir,
    backbone,
    grid_file,
    splits,
    channels,
    strides,
    strides_everywhere,
    time_steps,
    kernel_size,
    dataset,
    data_dir,
    epochs,
    batch_size,
    lr,
    optimizer,
    weight_decay,
    augment,
    train_samples,
    test_samples,
    seed,
    rates_samples,
    budget,
    relaxed_budget,
    objective,
    preset,
    workers,
    address,
    device_spec,
    gpus_per_trial,
    precision,
    retries,
    retry_failed,
    resume,
    fmt,
    report,
    plot,
) -> None:
    """Fine-tune a bottleneck for every split x C' x stride x T, keep those within the
    accuracy budget, pick the fewest bits per split point, then the split point."""
    given = {k: v for k, v in locals().items() if v is not None}
    from sbn.cli.outputs import own_outputs
    from sbn.energy.plots import plot_format
    from sbn.sweep import Selection, SweepDir, check_dataset, make_sweep_plan, run_sweep, summarise
    from sbn.sweep.gridfile import load_grid_file
    from sbn.train import TrainSettings

    fmt = choose_format(fmt, report)
    own_outputs({"--out": sweep_dir, "--report": report, "--plot": plot}, [backbone, grid_file])
    values = _resolve(given, load_grid_file(grid_file) if grid_file else {}, SweepDir(sweep_dir), resume)
    train = TrainSettings(**{k: values[k] for k in TRAIN_FIELDS if k in values})
    plan = make_sweep_plan(
        values["backbone"],
        splits=values["splits"],
        channels=values["channels"],
        strides=values["strides"],
        time_steps=values["time_steps"],
        strides_everywhere=values["strides_everywhere"],
        train=train,
        kernel_size=values["kernel_size"],
        rates_samples=values["rates_samples"],
    )
    selection = Selection(
        budget=values["budget"],
        relaxed_budget=values["relaxed_budget"],
        objective=values["objective"],
        preset=values["preset"],
    )
    check_dataset(plan, data_dir)
    if plot is not None:
        plot_format(plot)  # fail before training, not after

    with TrialProgress() as progress:
        run = run_sweep(
            sweep_dir,
            plan,
            resume=resume,
            workers=workers,
            address=address,
            retries=retries,
            retry_failed=retry_failed,
            data_dir=data_dir,
            device=device_spec,
            gpus_per_trial=gpus_per_trial,
            on_start=progress.start,
            on_trial=progress.trial,
        )
    if run.lost:
        note(
            f"{len(run.lost)} finished trial(s) trained again: their checkpoint was missing "
            f"or had changed ({', '.join(run.lost)})"
        )
    if run.skipped:
        note(f"{len(run.skipped)} finished trial(s) kept from before")
    if run.not_retried:
        note(
            f"{len(run.not_retried)} trial(s) that failed on a bad configuration not rerun "
            f"(--retry-failed reruns them)"
        )
    summary = summarise(sweep_dir, selection)
    _show(summary, fmt, report)
    if plot is not None:
        from sbn.sweep.plots import plot_sweep

        plot_sweep(summary, plot)
        note(f"wrote {plot}")
    failed = summary["failed"]
    if failed:
        note(f"{len(failed)} trial(s) failed: " + "; ".join(f"{f['id']}: {f['error']}" for f in failed))
    chosen = summary["chosen"]
    if chosen is not None and fmt != "table":  # the table prints the command itself
        note(f"chosen: {chosen['split']} ({chosen['trial']}); export it with:")
        note(f"  {chosen['export_command']}")


def _resolve(given: dict, from_file: dict, folder, resume: bool) -> dict:
    """Each setting from the command line, else the sweep file, else (resuming) the stored
    plan, else its default."""
    from sbn.data import default_augment
    from sbn.errors import ConfigError

    stored = folder.load_plan().options() if resume and folder.exists() else {}
    values = {**DEFAULTS, **stored, **from_file, **given}
    if "augment" not in values and "dataset" in values:
        values["augment"] = default_augment(values["dataset"])
    needed = (
        ("backbone", "--backbone CKPT"),
        ("splits", "--splits (e.g. RB1,RB7,RB16 or all)"),
        ("channels", "--channels (e.g. 4,8,16)"),
    )
    for name, option in needed:
        if name not in values:
            raise ConfigError(f"the sweep needs {option}, on the command line or in --grid")
    return values


def _show(summary: dict, fmt: str, report: Path | None) -> None:
    from sbn.sweep.report import chosen_line, render

    if fmt != "table":
        emit(render(summary, fmt), report)
        return
    from rich.markup import escape
    from rich.table import Table

    from sbn.energy.tables import fmt_number
    from sbn.sweep.report import COLUMNS, cells

    t = Table(
        title=escape(
            f"sbn sweep {summary['sweep_dir']}: choice per split point "
            f"({summary['trials']['finished']} trials finished, "
            f"{summary['trials']['failed']} failed)"
        )
    )
    for key, title in COLUMNS:
        left = key in ("split", "status", "trial")
        t.add_column(escape(title), justify="left" if left else "right")
    for row in summary["rows"]:
        text = ["-" if v is None else v if isinstance(v, str) else fmt_number(v) for v in cells(row)]
        style = "bold" if row["chosen"] else "dim" if row.get("over_budget") else None
        t.add_row(*map(escape, text), style=style)
    t.caption = escape(chosen_line(summary))
    out = console()
    out.print(t)
    if summary["chosen"] is not None:
        click.echo(f"export: {summary['chosen']['export_command']}")  # unwrapped: to paste


class TrialProgress:
    """A rich bar of trials done and failed, on stderr; drawn from the first ``start`` on
    (errors found before any trial runs stay one clean line)."""

    def __init__(self) -> None:
        self._bars = None
        self._task = None
        self._ok = self._failed = 0

    def __enter__(self) -> TrialProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self._bars is not None:
            self._bars.__exit__(*exc)

    def start(self, total: int, to_run: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if to_run == 0:
            return
        self._bars = Progress(
            TextColumn("trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._bars.__enter__()
        self._task = self._bars.add_task(
            "trials", total=to_run, info=f"({total - to_run} of {total} already finished)"
        )

    def trial(self, record: dict) -> None:
        if record["status"] == "ok":
            self._ok += 1
        else:
            self._failed += 1
        self._bars.update(
            self._task, advance=1, info=f"{self._ok} ok, {self._failed} failed (last: {record['id']})"
        )
