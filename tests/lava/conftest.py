"""Shared pieces for the Lava tests: small NIR graphs, calibrated reduced SpikeBottleNets,
their export folders.

Lava forks processes for every run: the default tests keep to a few runtimes each, small
maps and T <= 4.
"""

from __future__ import annotations

import numpy as np
import pytest

from sbn import checkpoint as ckpt_io
from sbn.models import BottleneckConfig, ModelConfig

#: every block type: stride-1 projection (RB1), stride-2 projections (RB2, RB4, RB5),
#: identity shortcut (RB3)
SMALL = dict(width=0.0625, layers=(1, 2, 1, 1), image_size=16, num_classes=10, time_steps=4)


@pytest.fixture(scope="session")
def small_sbn(calibrate):
    """SpikeBottleNet, channel-only bottleneck after RB3."""
    return calibrate(ModelConfig(**SMALL, bottleneck=BottleneckConfig(3, 8, 1)), seed=1)


@pytest.fixture(scope="session")
def small_backbone(calibrate):
    return calibrate(ModelConfig(**SMALL), seed=2)


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory, small_sbn):
    """``sbn export`` of the small SpikeBottleNet: full/device/edge.nir + manifest.json."""
    from sbn.graph import export_checkpoint

    root = tmp_path_factory.mktemp("export")
    ckpt = ckpt_io.Checkpoint(config=small_sbn_config(), model_state=small_sbn.state_dict())
    ckpt_io.save(root / "model.safetensors", ckpt)
    export_checkpoint(root / "model.safetensors", root / "out")
    return root / "out"


def small_sbn_config() -> ModelConfig:
    return ModelConfig(**SMALL, bottleneck=BottleneckConfig(3, 8, 1))


@pytest.fixture(scope="session")
def images():
    return np.random.default_rng(0).random((3, 3, 16, 16))


@pytest.fixture(scope="session")
def small_config():
    return ModelConfig(**SMALL)
