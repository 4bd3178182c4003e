"""``sbn train``: the method's two steps.

Step 1, a backbone:   sbn train --dataset digits --width 0.0625 --T 4 --out runs/backbone.safetensors
Step 2, fine-tune:    sbn train --from runs/backbone.safetensors --split RB7 --channels 16 \\
                          --out runs/sbn-rb7.safetensors
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from sbn.cli.report_output import note

LAYERS_HELP = "Blocks per stage, e.g. 3,4,6,3 (ResNet50: RB1..RB16) or 1,1,1,1 for quick runs."


def _layers(ctx, param, value: str | None):
    if value is None:
        return None
    try:
        layers = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected four comma-separated block counts, got {value!r}")
    if len(layers) != 4 or min(layers) < 1:
        raise click.BadParameter(f"expected four positive block counts, got {value!r}")
    return layers


@click.command("train")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Checkpoint file to write (.safetensors); rewritten atomically after every epoch.")
@click.option("--dataset", type=click.Choice(["digits", "cifar10", "cifar100"]), default="digits",
              show_default=True, help="digits needs no download; CIFAR needs --data-dir.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding cifar-10-batches-py / cifar-100-python (or where --download puts it).")
@click.option("--download", is_flag=True, help="Fetch the CIFAR release into --data-dir if missing.")
@click.option("--from", "backbone_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Step 2: fine-tune from this backbone checkpoint (needs --split and --channels).")
@click.option("--split", default=None, help="Step 2: insert the bottleneck after this RB (RB1..RB16).")
@click.option("--channels", type=click.IntRange(min=1), default=None, help="Step 2: C', encoder channels.")
@click.option("--stride", type=click.IntRange(min=1), default=1, show_default=True,
              help="Step 2: spatial reduction s of the encoder.")
@click.option("--kernel-size", type=click.IntRange(min=1), default=3, show_default=True,
              help="Step 2: encoder/decoder kernel size (odd).")
@click.option("--kind", type=click.Choice(["spiking", "ann"]), default="spiking", show_default=True,
              help="Step 1 only: spiking ResNet50, or the real-valued baseline (BottleNet++ in step 2).")
@click.option("--width", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Step 1 only: channel width multiplier (1.0 = ResNet50). [default: 0.0625]")
@click.option("--layers", callback=_layers, default=None, help=LAYERS_HELP + " [default: 3,4,6,3]")
@click.option("--surrogate-width", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Step 1 only: width a of the rectangular surrogate gradient. [default: 4]")
@click.option("--T", "time_steps", type=click.IntRange(1, 8), default=None,
              help="Time steps (the method uses 2 or 4). [default: 4; step 2: the backbone's]")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Peak learning rate (cosine schedule down to 1 %).")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--weight-decay", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option("--augment/--no-augment", default=None,
              help="Random crop + flip. [default: on for CIFAR, off for digits]")
@click.option("--train-samples", type=click.IntRange(min=1), default=None,
              help="Use only the first N training images.")
@click.option("--test-samples", type=click.IntRange(min=1), default=None,
              help="Evaluate on only the first N test images.")
@click.option("--quantize", "quantize_target", default=None,
              help="Step 3: fine-tune the SpikeBottleNet given to --from through this target's "
                   "fixed point (loihi2): the device half trains with the chip's weight rounding.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue --out from its last finished epoch.")
@click.option("--summary", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JSON summary (sbn.train/1) to this file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="How to print the final summary on stdout.")
def train(out, dataset, data_dir, download, backbone_path, split, channels, stride, kernel_size,
          kind, width, layers, surrogate_width, time_steps, epochs, batch_size, lr, optimizer, weight_decay,
          augment, train_samples, test_samples, quantize_target, seed, resume, summary, fmt):
    """Train a backbone (step 1) or fine-tune a bottleneck from one (step 2)."""
    from sbn import checkpoint as ckpt_io
    from sbn.cli.train_view import RichProgress, render_summary
    from sbn.data import load_dataset
    from sbn.errors import ConfigError
    from sbn.fileio import write_json
    from sbn.models import BottleneckConfig, LIFParameters, ModelConfig, parse_split
    from sbn.train import TrainSettings, finetune_config
    from sbn.train import train as run_training

    step2 = backbone_path is not None and quantize_target is None
    if quantize_target is not None:
        from sbn.targets import resolve_target
        from sbn.targets.quantize import require_format

        require_format(resolve_target(quantize_target))
        if backbone_path is None:
            raise ConfigError("--quantize fine-tunes a trained SpikeBottleNet: give it with --from")
        for name, given in (("--split", split), ("--channels", channels), ("--width", width),
                            ("--layers", layers), ("--surrogate-width", surrogate_width),
                            ("--T", time_steps)):
            if given is not None:
                raise ConfigError(f"{name} comes from the checkpoint given to --from with --quantize; drop it")
        backbone = ckpt_io.load(backbone_path)
        config = backbone.config
        if config.bottleneck is None or config.kind != "spiking":
            raise ConfigError(f"--quantize needs a spiking SpikeBottleNet checkpoint (with a split); "
                              f"{backbone_path} is a {config.arch}")
    elif step2:
        if split is None or channels is None:
            raise ConfigError("--from (step 2) needs --split RBk and --channels C'")
        for name, given in (("--width", width), ("--layers", layers),
                            ("--surrogate-width", surrogate_width)):
            if given is not None:
                raise ConfigError(f"{name} comes from the backbone in step 2; drop it")
        if kind != "spiking":
            raise ConfigError("--kind comes from the backbone in step 2; drop it")
        backbone = ckpt_io.load(backbone_path)
        bottleneck = BottleneckConfig(
            split=parse_split(split, backbone.config.num_blocks), channels=channels,
            stride=stride, kernel_size=kernel_size,
        )
        config = finetune_config(backbone.config, bottleneck, time_steps)
    else:
        if split is not None or channels is not None:
            raise ConfigError("--split/--channels fine-tune a bottleneck: they need --from BACKBONE")
        backbone = None
        num_classes = {"digits": 10, "cifar10": 10, "cifar100": 100}[dataset]
        config = ModelConfig(
            kind=kind, num_classes=num_classes, width=0.0625 if width is None else width,
            layers=layers or (3, 4, 6, 3), time_steps=4 if time_steps is None else time_steps,
            lif=LIFParameters() if surrogate_width is None else LIFParameters(surrogate_width=surrogate_width),
        )
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out {out}: checkpoints are .safetensors files")
    if backbone_path is not None and out.resolve() == backbone_path.resolve():
        raise ConfigError(f"--out {out} would overwrite the backbone given to --from")

    settings = TrainSettings(
        dataset=dataset, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        optimizer=optimizer, seed=seed, augment=(dataset != "digits") if augment is None else augment,
        train_samples=train_samples, test_samples=test_samples, quantize=quantize_target,
    )
    train_data = load_dataset(dataset, root=data_dir, train=True, download_missing=download)
    test_data = load_dataset(dataset, root=data_dir, train=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    step = ("step 1" if backbone_path is None else f"step 2 from {backbone_path}" if step2
            else f"quantisation-aware for {quantize_target} from {backbone_path}")
    note(f"training {config.arch} ({step}) "
         f"on {dataset}: {len(train_data.subset(train_samples))} train / "
         f"{len(test_data.subset(test_samples))} test images, T={config.time_steps}, -> {out}")
    with RichProgress(epochs) as progress:
        result = run_training(
            config, settings, train_data, test_data, out,
            backbone=backbone, backbone_path=backbone_path, resume=resume, progress=progress,
        )
    if summary is not None:
        write_json(summary, result.summary)
    if fmt == "json":
        click.echo(json.dumps(result.summary, indent=2))
    else:
        render_summary(result.summary)
