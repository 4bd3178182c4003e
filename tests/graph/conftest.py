"""Small spiking models whose neurons actually fire (``calibrate``, tests/conftest.py),
for the export tests."""

from __future__ import annotations

import pytest

from sbn.models import BottleneckConfig, LIFParameters, ModelConfig

#: every block type: stride-1 projection (RB1), stride-2 projection (RB2, RB4, RB5),
#: identity shortcuts (RB3)
SMALL = dict(width=0.0625, layers=(1, 2, 1, 1), image_size=16, num_classes=10, time_steps=4)


def small_config(**overrides) -> ModelConfig:
    return ModelConfig(**{**SMALL, **overrides})


@pytest.fixture(scope="session")
def spiking_backbone(calibrate):
    return calibrate(small_config())


@pytest.fixture(scope="session")
def sbn_stride1(calibrate):
    return calibrate(small_config(bottleneck=BottleneckConfig(3, 8, 1)), seed=1)


@pytest.fixture(scope="session")
def sbn_stride2(calibrate):
    """Stride-2 bottleneck after RB2: the decoder's polyphase output runs through RB3 and
    RB4's stride-2 convolutions back to a plain map."""
    return calibrate(small_config(bottleneck=BottleneckConfig(2, 8, 2)), seed=2)


@pytest.fixture(scope="session")
def sbn_last_stride2(calibrate):
    """Stride 2 after the last block (the method's RB16 case): phases reach the head."""
    return calibrate(
        small_config(bottleneck=BottleneckConfig(5, 16, 2), lif=LIFParameters(decay=0.25, v_th=0.75)), seed=3
    )


@pytest.fixture(scope="session")
def if_backbone(calibrate):
    return calibrate(small_config(lif=LIFParameters(decay=1.0, v_th=1.0)), seed=4)


@pytest.fixture(scope="session")
def make_config():
    """small_config for test modules (importlib mode: they cannot import conftest)."""
    return small_config
