"""One trial of a sweep, as it runs on a worker: the method's step 2 for one bottleneck,
then the device energy of its split point from firing rates measured on the result.

``run_trial`` takes and returns plain data (it crosses process boundaries on Ray). It
trains with ``resume=True``: a trial cut short by an interrupted sweep or a dead worker
continues from its last finished epoch, and one whose checkpoint is complete is only
summarised again. A job with ``ranks`` > 1 trains data-parallel over that many processes
(``sbn.sweep.trial_ranks``: one per GPU Ray gave the trial), then is summarised here.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sbn.energy.presets import DEFAULT_ANN_PRESET as ANN_PRESET
from sbn.energy.presets import DEFAULT_SNN_PRESETS as SNN_PRESETS  # every trial is priced on these
from sbn.sweep.grid import TrialSpec

TRIAL_SCHEMA = "sbn.sweep-trial/1"


@dataclass(frozen=True)
class TrialJob:
    """Everything a worker needs for one trial (paths must be visible to the worker)."""

    spec: TrialSpec
    backbone: str  # step-1 checkpoint
    checkpoint: str  # where this trial's checkpoint goes
    settings: dict[str, Any]  # sbn.train.TrainSettings as a dict
    kernel_size: int = 3
    rates_samples: int = 32
    data_dir: str | None = None
    threads: int | None = 1  # torch threads in the worker; None leaves them alone
    device: str = "auto"  # resolved on the worker (Ray shows a task only its GPUs)
    ranks: int = 1  # data-parallel training processes (one per GPU of the trial)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (how the trial's ranks receive it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialJob:
        return cls(**{**data, "spec": TrialSpec(**data["spec"])})


def run_trial(job: TrialJob) -> dict[str, Any]:
    """Fine-tune ``job.spec`` from the backbone; return the trial's results."""
    import torch

    from sbn.device import resolve_device
    from sbn.train import Runtime

    if job.threads is not None:
        torch.set_num_threads(job.threads)  # K workers share the machine's cores
    device = resolve_device(job.device)
    if job.ranks > 1:
        from sbn.sweep.trial_ranks import train_on_ranks

        train_on_ranks(job, device)  # then the call below finds the checkpoint finished
    config, settings, result = fine_tune(job, Runtime(device=device))
    summary = result.summary
    energy = device_energy(
        result.model, job.spec.split, settings.dataset, job.data_dir, job.rates_samples, settings.seed, device
    )
    from sbn.models.accounting import payload

    p = payload(config)
    return {
        "accuracy": summary["accuracy"],
        "backbone_accuracy": summary["backbone_accuracy"],
        "accuracy_drop": summary["accuracy_drop"],
        "payload_shape": summary["payload_shape"],
        "transmitted_bits": summary["transmitted_bits"],
        "baseline_bits": p.baseline_bits,
        "raw_bits": summary["raw_bits"],
        "compression_ratio": summary["compression_ratio"],
        "reduction_vs_bottlenetpp_pct": p.reduction_vs_baseline,
        "checkpoint_sha256": summary["checkpoint_sha256"],
        "epochs": summary["epochs"],
        "train_seconds": summary["seconds"],
        "ranks": job.ranks,
        "energy": energy,
    }


def fine_tune(job: TrialJob, runtime):
    """The method's step 2 for ``job.spec``, resumed where its checkpoint stopped, on
    ``runtime`` (one process, or one rank of several): (config, settings, TrainResult)."""
    from sbn import checkpoint as ckpt_io
    from sbn.train import TrainSettings, finetune_config, train

    settings = TrainSettings.from_dict(job.settings)
    backbone = ckpt_io.load(job.backbone)
    config = finetune_config(backbone.config, job.spec.bottleneck(job.kernel_size), job.spec.time_steps)
    train_data, test_data = _datasets(settings.dataset, job.data_dir)
    result = train(
        config,
        settings,
        train_data,
        test_data,
        job.checkpoint,
        backbone=backbone,
        backbone_path=job.backbone,
        resume=True,
        runtime=runtime,
    )
    return config, settings, result


def device_energy(
    model, split: int, dataset: str, data_dir: str | None, samples: int, seed: int, device=None
) -> dict[str, Any]:
    """Cumulative device energy of RB1..RB``split`` (sbn.energy), firing rates measured on
    ``samples`` test images with the trained model itself."""
    from sbn.energy import estimate_energy, layer_table, resolve_preset
    from sbn.energy.firing import measure_on_dataset

    rates = measure_on_dataset(model, dataset, root=data_dir, samples=samples, seed=seed, device=device)
    report = estimate_energy(
        layer_table(model), rates, [resolve_preset(n) for n in SNN_PRESETS], resolve_preset(ANN_PRESET)
    )
    at = report.split(split)
    return {
        "snn_mj": dict(at.snn_mj),
        "ann_mj": at.ann_mj,
        "ann_preset": ANN_PRESET,
        "syops": at.syops,
        "macs": at.macs,
        "rates_source": rates.source,
        "rates_samples": rates.samples,
    }


@functools.lru_cache(maxsize=2)
def _datasets(name: str, data_dir: str | None):
    """(train, test); cached because a Ray worker process runs many trials."""
    from sbn.data import load_dataset

    root = Path(data_dir) if data_dir else None
    return load_dataset(name, root=root, train=True), load_dataset(name, root=root, train=False)
