"""Real payloads for the wire tests: the device half of a calibrated small SpikeBottleNet,
exported to NIR and run by the reference executor on digits."""

from __future__ import annotations

import pytest

from sbn.models import BottleneckConfig, ModelConfig


@pytest.fixture(scope="session")
def real_payloads(calibrate, tmp_path_factory):
    """[T, B, C', H', W'] spikes that crossed the cut of a small SpikeBottleNet (8 samples)."""
    from sbn import checkpoint as ckpt_io
    from sbn.data import load_dataset
    from sbn.graph import execute, export_checkpoint
    from sbn.graph.io import load_nir
    from sbn.targets.lava.split import encode

    config = ModelConfig(
        width=0.0625,
        layers=(1, 1, 1, 1),
        image_size=32,
        num_classes=10,
        time_steps=2,
        bottleneck=BottleneckConfig(2, 4, 1),
    )
    root = tmp_path_factory.mktemp("wire")
    ckpt_io.save(
        root / "m.safetensors",
        ckpt_io.Checkpoint(config=config, model_state=calibrate(config, seed=4).state_dict()),
    )
    export_checkpoint(root / "m.safetensors", root / "export")
    device = load_nir(root / "export" / "device.nir")
    images = load_dataset("digits", train=False).images[:8].double().numpy()
    (payload,) = execute(device, encode(images, config.time_steps)).outputs.values()
    return payload
