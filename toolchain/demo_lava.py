"""The demo's Lava step: test samples through device -> packed payload -> edge in Lava,
compared with the reference executor and the PyTorch model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sbn.data import ImageDataset


def compare_lava_pytorch(checkpoint: Path, export_dir: Path, data: ImageDataset,
                         workers: int = 0) -> dict[str, Any]:
    """Simulate ``data`` in Lava; accuracy, agreement and bytes on the wire (``sbn.sim/1``)."""
    from sbn.targets.lava.evaluate import SimSource, evaluate

    source = SimSource.resolve(export_dir)
    report = evaluate(
        source, data.images.double().numpy(), data.labels.numpy(),
        time_steps=int(source.manifest["time_steps"]), checkpoint=str(checkpoint),
        workers=workers, dataset=data.name,
    )
    return report
