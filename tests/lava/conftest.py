"""Shared pieces for the Lava tests: small NIR graphs, calibrated reduced SpikeBottleNets,
their export folders.

Lava forks processes for every run: the default tests keep to a few runtimes each, small
maps and T <= 4.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sbn import checkpoint as ckpt_io
from sbn.models import BottleneckConfig, ModelConfig, build_model
from sbn.models.norm import TdBatchNorm

#: every block type: stride-1 projection (RB1), stride-2 projections (RB2, RB4, RB5),
#: identity shortcut (RB3)
SMALL = dict(width=0.0625, layers=(1, 2, 1, 1), image_size=16, num_classes=10, time_steps=4)


def calibrated(config: ModelConfig, seed: int = 0) -> torch.nn.Module:
    """A model whose neurons fire: tdBN statistics from one batch, perturbed affine terms."""
    torch.manual_seed(seed)
    model = build_model(config)
    norms = [m for m in model.modules() if isinstance(m, TdBatchNorm)]
    with torch.no_grad():
        for bn in norms:
            bn.momentum = 1.0
            bn.weight.uniform_(0.8, 1.6)
            bn.bias.uniform_(-0.1, 0.4)
        model.train()
        model(torch.rand(8, config.in_channels, config.image_size, config.image_size))
        for bn in norms:
            bn.momentum = 0.1
    return model.eval()


@pytest.fixture(scope="session")
def small_sbn():
    """SpikeBottleNet, channel-only bottleneck after RB3."""
    return calibrated(ModelConfig(**SMALL, bottleneck=BottleneckConfig(3, 8, 1)), seed=1)


@pytest.fixture(scope="session")
def small_backbone():
    return calibrated(ModelConfig(**SMALL), seed=2)


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


@pytest.fixture(scope="session")
def calibrate():
    """``calibrated`` for test modules (importlib mode: they cannot import conftest)."""
    return calibrated
