"""ResNet50 depth ([3, 4, 6, 3], all 16 blocks) at reduced width in Lava (slow: -m slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sbn.graph import execute, export_nir, partition
from sbn.models import ModelConfig
from sbn.targets.lava import encode, simulate_split
from sbn.targets.lava.runtime import lava_children

pytestmark = pytest.mark.slow


CONFIG = ModelConfig(width=0.0625, layers=(3, 4, 6, 3), image_size=32, num_classes=10, time_steps=2)


@pytest.fixture(scope="module")
def deep(calibrate):
    return calibrate(CONFIG, seed=7)


@pytest.mark.parametrize("split,fuse", [("RB3", "node"), ("RB13", "block")])
def test_all_sixteen_blocks_split_at_two_points(deep, split, fuse):
    graph = export_nir(deep)
    device, edge = partition(graph, split)
    images = np.random.default_rng(1).random((2, 3, 32, 32))
    ref = next(iter(execute(graph, encode(images, 2)).outputs.values()))
    run = simulate_split(device, edge, images, fuse=fuse)
    np.testing.assert_array_equal(run.outputs, ref)
    c, h, w = CONFIG.block_shape(int(split[2:]))
    assert run.bytes_per_sample == [math.ceil(2 * c * h * w / 8)] * 2
    assert not lava_children()
