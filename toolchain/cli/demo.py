"""``sbn demo``: the main job, end to end on the bundled digits dataset."""

from __future__ import annotations

from pathlib import Path

import click

from sbn.cli.bounds import CHANNELS, COUNT, SEED, STRIDE, WIDTH


class _ChunkBar:
    """A transient bar over the Lava chunks, started on the first report."""

    def __init__(self, console) -> None:
        self.console = console
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        from rich.progress import Progress

        if self.bar is None:
            self.bar = Progress(console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("Lava chunks", total=total)
        self.bar.update(self.task, completed=done)
        if done >= total:
            self.bar.stop()
            self.bar = None


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/demo"),
    show_default=True,
    help="Report folder; a second run reuses what is already there.",
)
@click.option("--fresh", is_flag=True, help="Redo every step instead of reusing earlier results.")
@click.option("--split", default="RB7", show_default=True, help="Where the bottleneck goes (RB1..RB16).")
@click.option("--channels", type=CHANNELS, default=8, show_default=True, help="C'.")
@click.option("--stride", type=STRIDE, default=1, show_default=True, help="s.")
@click.option(
    "--T",
    "--time-steps",
    "time_steps",
    type=click.IntRange(1, 8),
    default=2,
    show_default=True,
    help="Time steps.",
)
@click.option(
    "--width",
    type=WIDTH,
    default=0.125,
    show_default=True,
    help="Channel width multiplier of the 16-RB ResNet50.",
)
@click.option("--epochs", type=COUNT, default=12, show_default=True, help="Backbone epochs.")
@click.option("--finetune-epochs", type=COUNT, default=5, show_default=True)
@click.option("--samples", type=COUNT, default=32, show_default=True, help="Test samples simulated in Lava.")
@click.option(
    "--fixed-samples",
    type=COUNT,
    default=64,
    show_default=True,
    help="Test samples run with the device in the target's fixed point.",
)
@click.option(
    "--target",
    default="loihi2",
    show_default=True,
    help="Target of the core map and the fixed-point run: one with a fixed-point format "
    "that holds the model (loihi2, or a .toml/.json target file).",
)
@click.option(
    "--qat-epochs",
    type=click.IntRange(0, 1000),
    default=2,
    show_default=True,
    help="Quantisation-aware epochs before the fixed-point run (0: round the fine-tuned model as it is).",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
def demo(
    out,
    fresh,
    split,
    channels,
    stride,
    time_steps,
    width,
    epochs,
    finetune_epochs,
    samples,
    fixed_samples,
    target,
    qat_epochs,
    seed,
):
    """Train, fine-tune, export, partition, map, simulate in Lava and report, on digits."""
    from rich.console import Console

    from sbn.cli.outputs import own_outputs
    from sbn.cli.report_output import console
    from sbn.cli.train_view import RichProgress
    from sbn.demo import DemoHooks, DemoSettings, run_demo

    own_outputs({"--out": out})
    settings = DemoSettings(
        width=width,
        time_steps=time_steps,
        split=split,
        channels=channels,
        stride=stride,
        epochs=epochs,
        finetune_epochs=finetune_epochs,
        lava_samples=samples,
        fixed_samples=fixed_samples,
        target=target,
        qat_epochs=qat_epochs,
        seed=seed,
    )
    settings.bottleneck()  # validates the split against the model
    settings.backbone_config().with_bottleneck(settings.bottleneck())
    err = Console(stderr=True)
    total = settings.steps()
    steps = iter(range(1, total + 1))

    def step(name: str, reused: bool) -> None:
        err.print(
            f"[bold][{next(steps)}/{total}][/bold] {name}" + ("  [dim](reused)[/dim]" if reused else "")
        )

    report = run_demo(
        out,
        settings,
        fresh=fresh,
        hooks=DemoHooks(step=step, training=RichProgress, lava_chunk=_ChunkBar(err)),
    )
    from rich.markdown import Markdown

    console().print(Markdown((out / "report.md").read_text()))
    err.print(f"report folder: {out} ({report['seconds']:.0f} s)")
