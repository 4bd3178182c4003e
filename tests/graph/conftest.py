"""Small spiking models whose neurons actually fire, for the export tests.

Fresh models have running statistics (mean 0, var 1) that do not match their activations,
so most layers would stay silent. ``calibrated`` sets every tdBN's statistics from one
batch of random images, then perturbs the affine parameters so that folding is exercised
with non-trivial numbers, and leaves the model in eval mode.
"""

from __future__ import annotations

import pytest
import torch

from sbn.models import BottleneckConfig, LIFParameters, ModelConfig, build_model
from sbn.models.norm import TdBatchNorm


def calibrated(config: ModelConfig, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(config)
    norms = [m for m in model.modules() if isinstance(m, TdBatchNorm)]
    with torch.no_grad():
        for bn in norms:
            bn.momentum = 1.0  # the running statistics become this batch's
            bn.weight.uniform_(0.8, 1.6)
            bn.bias.uniform_(-0.1, 0.4)
        model.train()
        model(torch.rand(8, config.in_channels, config.image_size, config.image_size))
        for bn in norms:
            bn.running_mean.add_(torch.empty_like(bn.running_mean).uniform_(-0.05, 0.05))
            bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.9, 1.1))
            bn.momentum = 0.1
    return model.eval()


#: every block type: stride-1 projection (RB1), stride-2 projection (RB2, RB4, RB5),
#: identity shortcuts (RB3)
SMALL = dict(width=0.0625, layers=(1, 2, 1, 1), image_size=16, num_classes=10, time_steps=4)


def small_config(**overrides) -> ModelConfig:
    return ModelConfig(**{**SMALL, **overrides})


@pytest.fixture(scope="session")
def spiking_backbone():
    return calibrated(small_config())


@pytest.fixture(scope="session")
def sbn_stride1():
    return calibrated(small_config(bottleneck=BottleneckConfig(3, 8, 1)), seed=1)


@pytest.fixture(scope="session")
def sbn_stride2():
    """Stride-2 bottleneck after RB2: the decoder's polyphase output runs through RB3 and
    RB4's stride-2 convolutions back to a plain map."""
    return calibrated(small_config(bottleneck=BottleneckConfig(2, 8, 2)), seed=2)


@pytest.fixture(scope="session")
def sbn_last_stride2():
    """Stride 2 after the last block (the method's RB16 case): phases reach the head."""
    return calibrated(small_config(bottleneck=BottleneckConfig(5, 16, 2),
                                   lif=LIFParameters(decay=0.25, v_th=0.75)), seed=3)


@pytest.fixture(scope="session")
def if_backbone():
    return calibrated(small_config(lif=LIFParameters(decay=1.0, v_th=1.0)), seed=4)


@pytest.fixture(scope="session")
def make_config():
    """small_config for test modules (importlib mode: they cannot import conftest)."""
    return small_config


@pytest.fixture(scope="session")
def calibrate():
    """``calibrated`` for test modules."""
    return calibrated
