"""``sbn train``: the method's two steps.

Step 1, a backbone:   sbn train --dataset digits --width 0.0625 --T 4 --out runs/backbone.safetensors
Step 2, fine-tune:    sbn train --from runs/backbone.safetensors --split RB7 --channels 16 \\
                          --out runs/sbn-rb7.safetensors
The paper's scale:    sbn train --recipe cifar100-resnet50 --data-dir data --precision bf16 \\
                          --out runs/backbone.safetensors
Several GPUs:         torchrun --nproc-per-node 4 -m sbn train --recipe cifar100-resnet50 ...
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import click
from click.core import ParameterSource

from sbn.cli.bounds import (
    CHANNELS,
    COUNT,
    KERNEL_SIZE,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    STRIDE,
    WIDTH,
)
from sbn.cli.report_output import note
from sbn.data import DATASETS
from sbn.errors import ConfigError
from sbn.train_recipes import RECIPES

LAYERS_HELP = "Blocks per stage, e.g. 3,4,6,3 (ResNet50: RB1..RB16) or 1,1,1,1 for quick runs."


def _layers(ctx, param, value: str | None):
    if value is None:
        return None
    try:
        layers = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected four comma-separated block counts, got {value!r}") from None
    if len(layers) != 4 or min(layers) < 1:
        raise click.BadParameter(f"expected four positive block counts, got {value!r}")
    return layers


@click.command("train")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Checkpoint file to write (.safetensors); rewritten atomically after every epoch.",
)
@click.option(
    "--dataset",
    type=click.Choice(DATASETS),
    default="digits",
    show_default=True,
    help="digits needs no download; CIFAR needs --data-dir.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding cifar-10-batches-py / cifar-100-python (or where --download puts it).",
)
@click.option("--download", is_flag=True, help="Fetch the CIFAR release into --data-dir if missing.")
@click.option(
    "--from",
    "backbone_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Step 2: fine-tune from this backbone checkpoint (needs --split and --channels).",
)
@click.option("--split", default=None, help="Step 2: insert the bottleneck after this RB (RB1..RB16).")
@click.option("--channels", type=CHANNELS, default=None, help="Step 2: C', encoder channels.")
@click.option(
    "--stride", type=STRIDE, default=1, show_default=True, help="Step 2: spatial reduction s of the encoder."
)
@click.option(
    "--kernel-size",
    type=KERNEL_SIZE,
    default=3,
    show_default=True,
    help="Step 2: encoder/decoder kernel size (odd).",
)
@click.option(
    "--kind",
    type=click.Choice(["spiking", "ann"]),
    default="spiking",
    show_default=True,
    help="Step 1 only: spiking ResNet50, or the real-valued baseline (BottleNet++ in step 2).",
)
@click.option(
    "--width",
    type=WIDTH,
    default=None,
    help="Step 1 only: channel width multiplier (1.0 = ResNet50). [default: 0.0625]",
)
@click.option("--layers", callback=_layers, default=None, help=LAYERS_HELP + " [default: 3,4,6,3]")
@click.option(
    "--surrogate-width",
    type=POSITIVE,
    default=None,
    help="Step 1 only: width a of the rectangular surrogate gradient. [default: 4]",
)
@click.option(
    "--T",
    "--time-steps",  # the name sbn sim and sbn channel use
    "time_steps",
    type=click.IntRange(1, 8),
    default=None,
    help="Time steps (the method uses 2 or 4). [default: 4; step 2: the backbone's]",
)
@click.option("--epochs", type=COUNT, default=10, show_default=True)
@click.option("--batch-size", type=COUNT, default=64, show_default=True)
@click.option(
    "--lr",
    type=POSITIVE,
    default=1e-3,
    show_default=True,
    help="Peak learning rate (cosine schedule down to 1 %).",
)
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--weight-decay", type=NON_NEGATIVE, default=0.0, show_default=True)
@click.option(
    "--augment/--no-augment", default=None, help="Random crop + flip. [default: on for CIFAR, off for digits]"
)
@click.option("--train-samples", type=COUNT, default=None, help="Use only the first N training images.")
@click.option("--test-samples", type=COUNT, default=None, help="Evaluate on only the first N test images.")
@click.option(
    "--quantize",
    "quantize_target",
    default=None,
    help="Step 3: fine-tune the SpikeBottleNet given to --from through this target's "
    "fixed point (loihi2): the device half trains with the chip's weight rounding.",
)
@click.option(
    "--channel",
    "channel_spec",
    default=None,
    help="Step 2/3: fine-tune through bit errors on the payload (bsc:P or awgn:EBN0_DB; "
    "straight-through gradient), as BottleNet++ trains through its channel.",
)
@click.option(
    "--recipe",
    type=click.Choice(sorted(RECIPES)),
    default=None,
    help="Step 1: take every option this recipe names from it (docs/training.md "
    "gives each value's source); options given here win.",
)
@click.option(
    "--device",
    "device_spec",
    default="auto",
    show_default=True,
    help="auto (a GPU where there is one), cpu, cuda or cuda:N. Under torchrun "
    "each process takes GPU LOCAL_RANK.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16", "fp16"]),
    default="fp32",
    show_default=True,
    help="Training-step arithmetic (autocast; fp16 with loss scaling, GPU only). Evaluation runs in fp32.",
)
@click.option(
    "--channels-last",
    is_flag=True,
    help="NHWC memory layout for the convolutions (measure it: faster on some GPUs).",
)
@click.option(
    "--lif",
    "lif_kernel",
    type=click.Choice(["eager", "fused"]),
    default="eager",
    show_default=True,
    help="LIF time loop: eager autograd (the reference) or one "
    "fused, torch.compile'd node with a hand-written backward.",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue --out from its last finished epoch.")
@click.option(
    "--summary",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the JSON summary (sbn.train/1) to this file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="How to print the final summary on stdout.",
)
@click.pass_context
def train(
    ctx,
    out,
    dataset,
    data_dir,
    download,
    backbone_path,
    split,
    channels,
    stride,
    kernel_size,
    kind,
    width,
    layers,
    surrogate_width,
    time_steps,
    epochs,
    batch_size,
    lr,
    optimizer,
    weight_decay,
    augment,
    train_samples,
    test_samples,
    quantize_target,
    channel_spec,
    recipe,
    device_spec,
    precision,
    channels_last,
    lif_kernel,
    seed,
    resume,
    summary,
    fmt,
):
    """Train a backbone (step 1) or fine-tune a bottleneck from one (step 2)."""
    if recipe is not None:
        if backbone_path is not None:
            raise ConfigError("--recipe sets up step 1 (a backbone); drop it with --from")
        chosen = _recipe_options(ctx, recipe)
        dataset, kind, width, layers = (chosen[k] for k in ("dataset", "kind", "width", "layers"))
        time_steps, optimizer, lr = chosen["time_steps"], chosen["optimizer"], chosen["lr"]
        weight_decay, batch_size = chosen["weight_decay"], chosen["batch_size"]
        epochs, augment = chosen["epochs"], chosen["augment"]
    runtime = _runtime(device_spec, precision, channels_last, lif_kernel)
    from sbn.cli.train_view import RichProgress, render_summary
    from sbn.data import default_augment, load_dataset
    from sbn.fileio import write_json
    from sbn.train import TrainSettings, check_resume, refuse_existing_out
    from sbn.train import train as run_training
    from sbn.train_steps import model_to_train

    config, backbone = model_to_train(
        dataset=dataset,
        start_from=backbone_path,
        quantize=quantize_target,
        split=split,
        channels=channels,
        stride=stride,
        kernel_size=kernel_size,
        kind=kind,
        width=width,
        layers=layers,
        surrogate_width=surrogate_width,
        time_steps=time_steps,
        channel=channel_spec,
    )
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out {out}: checkpoints are .safetensors files")
    if runtime.ranks.main:  # one claim per run, not one per torchrun rank
        from sbn.cli.outputs import own_outputs

        own_outputs({"--out": out, "--summary": summary}, [backbone_path])
    if resume and not out.is_file():
        raise ConfigError(
            f"--resume continues --out {out}, which does not exist; drop --resume to start a new run"
        )
    refuse_existing_out(out, resume)  # before the data is loaded and the run announced

    settings = TrainSettings(
        dataset=dataset,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        optimizer=optimizer,
        seed=seed,
        augment=default_augment(dataset) if augment is None else augment,
        train_samples=train_samples,
        test_samples=test_samples,
        quantize=quantize_target,
        precision=precision,
        channel=channel_spec,
    )
    done = 0
    if resume:  # another config or settings, or a damaged state: refused before the banner
        done = check_resume(out, config, settings).epoch
    train_data = load_dataset(dataset, root=data_dir, train=True, download_missing=download)
    test_data = load_dataset(dataset, root=data_dir, train=False)
    main = runtime.ranks.main
    out.parent.mkdir(parents=True, exist_ok=True)
    step = (
        "step 1"
        if backbone_path is None
        else f"step 2 from {backbone_path}"
        if quantize_target is None
        else f"quantisation-aware for {quantize_target} from {backbone_path}"
    )
    finished = done >= epochs  # resumed with nothing left: say so instead of an empty bar
    if main and finished:
        note(f"note: {out} already trained for {done} of {epochs} epochs; nothing to do")
    elif main:
        ranks = runtime.ranks.world_size
        note(
            f"training {config.arch} ({step}) "
            f"on {dataset}: {len(train_data.subset(train_samples))} train / "
            f"{len(test_data.subset(test_samples))} test images, T={config.time_steps}, "
            f"{runtime.device}{f' x {ranks} ranks' if ranks > 1 else ''}, {precision}, -> {out}"
        )
    from sbn.train_ddp import process_group

    with (
        process_group(runtime.ranks, runtime.device),
        RichProgress(epochs, done) if main and not finished else contextlib.nullcontext(None) as progress,
    ):
        result = run_training(
            config,
            settings,
            train_data,
            test_data,
            out,
            backbone=backbone,
            backbone_path=backbone_path,
            resume=resume,
            progress=progress,
            runtime=runtime,
        )
    if not main:
        return
    if recipe is not None:
        result.summary["recipe"] = recipe
    if summary is not None:
        write_json(summary, result.summary)
    if fmt == "json":
        click.echo(json.dumps(result.summary, indent=2))
    else:
        render_summary(result.summary)


def _recipe_options(ctx: click.Context, name: str) -> dict:
    """The recipe's values, except where the command line gave an option explicitly."""
    from sbn.train_recipes import resolve_recipe

    chosen = {}
    for key, value in resolve_recipe(name).options.items():
        given = ctx.get_parameter_source(key) not in (ParameterSource.DEFAULT, None)
        chosen[key] = ctx.params[key] if given else value
    return chosen


def _runtime(device_spec: str, precision: str, channels_last: bool, lif_kernel: str):
    """Where this process trains; every refusal here comes before anything is written."""
    from sbn.device import resolve_device
    from sbn.train_ddp import rank_device, ranks_from_environment
    from sbn.train_fused_lif import check_compiler
    from sbn.train_precision import precision_for
    from sbn.train_runtime import Runtime

    ranks = ranks_from_environment()
    device = rank_device(ranks, resolve_device(device_spec), device_spec)
    precision_for(precision, device)
    if lif_kernel == "fused":
        check_compiler(device)
    return Runtime(device=device, channels_last=channels_last, lif=lif_kernel, ranks=ranks)
