"""The toolchain's Conv/Dense models against Lava's own floating-point models."""

from __future__ import annotations

import numpy as np
import pytest
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.conv import utils as lava_conv_utils
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source

from sbn.targets.lava import fast_run_cfg, kernels
from sbn.targets.lava.fast_models import lava_conv
from sbn.targets.lava.runtime import lava_children

# (X, Y, C_in, C_out, kernel, stride, padding, dilation, groups)
LAYERS = [
    (8, 7, 3, 4, 3, 1, 1, 1, 1),
    (9, 9, 4, 6, 3, 2, 1, 1, 2),
    (6, 6, 8, 4, 1, 1, 0, 1, 1),
    (6, 6, 8, 4, 1, 2, 0, 1, 1),
    (10, 8, 4, 4, 3, 2, 0, 2, 4),
    (7, 9, 2, 3, 5, 1, 2, 1, 1),
]


def dyadic(rng, shape, bits=4):
    """Weights with few significant bits: every partial sum is exact in float64."""
    return rng.integers(-2**bits, 2**bits, shape).astype(float) / 2**bits


@pytest.mark.parametrize("layer", LAYERS)
def test_conv_kernel_equals_lavas_reference_bit_for_bit(layer):
    x_, y_, ci, co, k, s, p, d, g = layer
    rng = np.random.default_rng(sum(layer))
    spikes = (rng.random((x_, y_, ci)) < 0.3).astype(float)
    weight = dyadic(rng, (co, k, k, ci // g))
    ref = lava_conv_utils.conv_scipy(spikes, weight, (k, k), (s, s), (p, p), (d, d), g)
    mine = lava_conv(spikes, weight, s, p, d, g)
    assert mine.shape == ref.shape
    assert np.array_equal(mine, ref)


def test_conv_kernel_close_on_arbitrary_floats():
    rng = np.random.default_rng(5)
    spikes = rng.random((9, 9, 6))
    weight = rng.normal(size=(5, 3, 3, 6))
    ref = lava_conv_utils.conv_scipy(spikes, weight, (3, 3), (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_allclose(lava_conv(spikes, weight, 1, 1, 1, 1), ref, rtol=0, atol=1e-12)


def test_nchw_conv_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.random((2, 4, 9, 8))
    w = rng.normal(size=(6, 2, 3, 3))
    b = rng.normal(size=6)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                     stride=2, padding=1, groups=2).numpy()
    np.testing.assert_allclose(kernels.conv2d(x, w, b, 2, 1, 1, 2), ref, rtol=0, atol=1e-12)


def _run_layer(make, data, cfg):
    """Source -> layer -> sink in a Lava runtime; the sink's record [steps, ...]."""
    steps = data.shape[-1] + 1
    src = Source(data=np.concatenate([data, np.zeros((*data.shape[:-1], 1))], axis=-1))
    layer = make()
    sink = Sink(shape=layer.a_out.shape, buffer=steps)
    src.s_out.connect(layer.s_in)
    layer.a_out.connect(sink.a_in)
    try:
        sink.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
        return sink.data.get().copy()
    finally:
        sink.stop()


def test_conv_process_fast_model_equals_stock_model_in_lava():
    rng = np.random.default_rng(2)
    weight = dyadic(rng, (4, 3, 3, 3))
    data = (rng.random((6, 5, 3, 3)) < 0.4).astype(float)  # (X, Y, C, steps)

    def make():
        return Conv(weight=weight, input_shape=(6, 5, 3), padding=1, stride=(2, 1))

    stock = _run_layer(make, data, Loihi2SimCfg(select_tag="floating_pt"))
    fast = _run_layer(make, data, fast_run_cfg())
    assert np.abs(stock).sum() > 0
    assert np.array_equal(fast, stock)
    assert not lava_children()


def test_dense_process_fast_model_equals_stock_model_in_lava():
    rng = np.random.default_rng(3)
    weights = dyadic(rng, (5, 7))
    data = (rng.random((7, 4)) < 0.5).astype(float)

    def make():
        return Dense(weights=weights)

    stock = _run_layer(make, data, Loihi2SimCfg(select_tag="floating_pt"))
    fast = _run_layer(make, data, fast_run_cfg())
    assert np.abs(stock).sum() > 0
    assert np.array_equal(fast, stock)
    # one step per hop: the input of step t leaves the layer at step t + 1
    assert np.array_equal(stock[:, 1], weights @ data[:, 0])
