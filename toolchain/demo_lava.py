"""The demo's Lava step: test samples through device -> packed payload -> edge in Lava,
compared with the reference executor and the PyTorch model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from sbn.data import ImageDataset


#: samples per Lava runtime: small enough that progress shows, large enough that the
#: runtime start (about a second) stays a small part of each chunk
CHUNK = 8


def compare_lava_pytorch(checkpoint: Path, export_dir: Path, data: ImageDataset,
                         workers: int = 0,
                         on_chunk: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Simulate ``data`` in Lava; accuracy, agreement and bytes on the wire (``sbn.sim/1``)."""
    from sbn.targets.lava.evaluate import SimSource, evaluate

    source = SimSource.resolve(export_dir)
    report = evaluate(
        source, data.images.double().numpy(), data.labels.numpy(),
        time_steps=int(source.manifest["time_steps"]), checkpoint=str(checkpoint),
        workers=workers, dataset=data.name, on_chunk=on_chunk, chunk_size=CHUNK,
    )
    return report
