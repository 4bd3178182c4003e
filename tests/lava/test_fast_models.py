"""The toolchain's Conv/Dense models against Lava's own floating-point models."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.conv import utils as lava_conv_utils
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source

from sbn.errors import GraphError
from sbn.graph import numerics
from sbn.targets.lava import fast_run_cfg, kernels
from sbn.targets.lava.fast_models import lava_conv
from sbn.targets.lava.lava_order import LavaOrderConv
from sbn.targets.lava.runtime import lava_children

# (X, Y, C_in, C_out, kernel, stride, padding, dilation, groups)
LAYERS = [
    (8, 7, 3, 4, 3, 1, 1, 1, 1),
    (9, 9, 4, 6, 3, 2, 1, 1, 2),
    (6, 6, 8, 4, 1, 1, 0, 1, 1),
    (6, 6, 8, 4, 1, 2, 0, 1, 1),
    (5, 4, 24, 6, 1, 1, 0, 1, 3),  # 1x1 with groups: runs of four channels per pass
    (10, 8, 4, 4, 3, 2, 0, 2, 4),
    (7, 9, 2, 3, 5, 1, 2, 1, 1),
]


def dyadic(rng, shape, bits=4):
    """Weights with few significant bits: every partial sum is exact in float64."""
    return rng.integers(-(2**bits), 2**bits, shape).astype(float) / 2**bits


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to the bit (tells +0 from -0, unlike ==)."""
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def stock_conv(x, weight, k, s, p, d, g):
    return lava_conv_utils.conv_scipy(x, weight, (k, k), (s, s), (p, p), (d, d), g)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("weights", ["normal", "dyadic"])
@pytest.mark.parametrize("inputs", ["spikes", "graded"])
def test_conv_kernel_equals_lavas_reference_bit_for_bit(layer, weights, inputs):
    x_, y_, ci, co, k, s, p, d, g = layer
    rng = np.random.default_rng(sum(layer))
    x = (rng.random((x_, y_, ci)) < 0.3).astype(float)
    if inputs == "graded":
        x *= rng.normal(size=x.shape)
    shape = (co, k, k, ci // g)
    weight = rng.normal(size=shape) if weights == "normal" else dyadic(rng, shape)
    assert same_bits(lava_conv(x, weight, s, p, d, g), stock_conv(x, weight, k, s, p, d, g))


def test_conv_kernel_equals_lavas_reference_on_random_layers():
    """200 random layers (kernel, stride, padding, dilation and groups per axis) with
    arbitrary float weights, spikes and graded inputs: bit-identical every time."""
    rng = np.random.default_rng(7)
    for trial in range(200):
        g = int(rng.choice([1, 2, 3]))
        ci, co = int(rng.integers(1, 4)) * g, int(rng.integers(1, 6)) * g
        k = tuple(int(v) for v in rng.integers(1, 4, 2))
        s, p, d = (tuple(int(v) for v in rng.integers(lo, hi, 2)) for lo, hi in ((1, 3), (0, 2), (1, 3)))
        x = (rng.random((int(rng.integers(7, 11)), int(rng.integers(7, 11)), ci)) < 0.4).astype(float)
        if trial % 2:
            x *= rng.normal(size=x.shape)
        weight = rng.normal(size=(co, *k, ci // g))
        ref = lava_conv_utils.conv_scipy(x, weight, k, s, p, d, g)
        got = LavaOrderConv(weight, s, p, d, g)(x)
        assert same_bits(got, ref), (trial, k, s, p, d, g)


def to_nchw(x, lava_weight):
    """Lava's (X, Y, C) input and convolution kernel as NIR's (1, C, H, W) and cross-correlation."""
    return x.transpose(2, 0, 1)[None], np.ascontiguousarray(lava_weight[:, ::-1, ::-1].transpose(0, 3, 1, 2))


def test_a_gemm_is_not_bit_identical_on_the_same_layers():
    """The order matters: a GEMM (the reference executor's tensordot) over the same products
    differs in the last bits, so the tests above could fail for a kernel that sums in
    another order."""
    rng = np.random.default_rng(5)
    x = (rng.random((12, 12, 16)) < 0.3).astype(float)
    weight = rng.normal(size=(8, 3, 3, 16))
    ref = stock_conv(x, weight, 3, 1, 1, 1, 1)
    gemm = numerics.conv2d(*to_nchw(x, weight), None, 1, 1, 1, 1)[0].transpose(1, 2, 0)
    np.testing.assert_allclose(gemm, ref, rtol=0, atol=1e-12)
    assert not np.array_equal(gemm, ref)
    assert same_bits(lava_conv(x, weight, 1, 1, 1, 1), ref)


@pytest.mark.parametrize("layer", LAYERS)
def test_nchw_kernel_is_lavas_conv_on_nir_layout(layer):
    """The backend's NIR-layout convolution (what the SegmentProcess models run) is Lava's
    stock Conv on the flipped kernel, bit for bit, sample by sample, with the bias after."""
    x_, y_, ci, co, k, s, p, d, g = layer
    rng = np.random.default_rng(sum(layer) + 1)
    xs = (rng.random((3, x_, y_, ci)) < 0.3).astype(float)
    weight = rng.normal(size=(co, k, k, ci // g))
    bias = rng.normal(size=co)
    conv = kernels.Conv2d(to_nchw(xs[0], weight)[1], bias, s, p, d, g)
    got = conv(xs.transpose(0, 3, 1, 2))
    for b in range(3):
        ref = stock_conv(xs[b], weight, k, s, p, d, g) + bias
        assert same_bits(np.ascontiguousarray(got[b].transpose(1, 2, 0)), ref)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_nchw_kernel_same_padding_matches_torch():
    """'same' padding with an even kernel is asymmetric (Lava's Conv cannot express it):
    the kernel pads the extra pixel after, as PyTorch does."""
    rng = np.random.default_rng(8)
    x = (rng.random((2, 3, 7, 6)) < 0.4).astype(float)
    w = rng.normal(size=(4, 3, 2, 4))
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding="same").numpy()
    got = kernels.conv2d(x, w, None, 1, "same", 1, 1)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_conv_kernel_skips_zeros_only_where_exact():
    """All-zero input gives +0 everywhere, as Lava's loop does (adding -0 products to +0)."""
    weight = -np.ones((2, 3, 3, 2))
    zeros = np.zeros((5, 5, 2))
    assert same_bits(lava_conv(zeros, weight, 1, 1, 1, 1), stock_conv(zeros, weight, 3, 1, 1, 1, 1))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((2, 3, 3, 2), np.nan), "inf or nan"),
        (np.ones((2, 3, 3)), "must be (C_out, kx, ky, C_in/groups)"),
    ],
)
def test_conv_kernel_refuses_bad_weights(bad, message):
    with pytest.raises(GraphError, match=re.escape(message)):
        LavaOrderConv(bad)


def test_conv_kernel_refuses_wrong_input_channels():
    with pytest.raises(ValueError, match=re.escape("Conv input must be (X, Y, 2), got shape (4, 4, 3)")):
        LavaOrderConv(np.ones((2, 3, 3, 2)))(np.zeros((4, 4, 3)))


def test_nchw_conv_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.random((2, 4, 9, 8))
    w = rng.normal(size=(6, 2, 3, 3))
    b = rng.normal(size=6)
    ref = torch.nn.functional.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=2, padding=1, groups=2
    ).numpy()
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


@pytest.mark.parametrize("message_bits", [0, 16])
def test_conv_process_fast_model_equals_stock_model_in_lava(message_bits):
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(4, 3, 3, 3))
    data = (rng.random((6, 5, 3, 3)) < 0.4).astype(float)  # (X, Y, C, steps)
    if message_bits:  # graded spikes
        data *= rng.normal(size=data.shape)

    def make():
        return Conv(
            weight=weight, input_shape=(6, 5, 3), padding=1, stride=(2, 1), num_message_bits=message_bits
        )

    stock = _run_layer(make, data, Loihi2SimCfg(select_tag="floating_pt"))
    fast = _run_layer(make, data, fast_run_cfg())
    assert np.abs(stock).sum() > 0
    assert same_bits(fast, stock)
    assert not lava_children()


def test_dense_process_fast_model_equals_stock_model_in_lava():
    rng = np.random.default_rng(3)
    weights = rng.normal(size=(5, 40))
    data = (rng.random((40, 4)) < 0.5).astype(float)

    def make():
        return Dense(weights=weights)

    stock = _run_layer(make, data, Loihi2SimCfg(select_tag="floating_pt"))
    fast = _run_layer(make, data, fast_run_cfg())
    assert np.abs(stock).sum() > 0
    assert same_bits(fast, stock)
    # one step per hop: the input of step t leaves the layer at step t + 1
    np.testing.assert_allclose(stock[:, 1], weights @ data[:, 0], rtol=0, atol=1e-12)


def test_dense_process_fast_model_equals_stock_model_on_graded_input():
    rng = np.random.default_rng(4)
    weights = rng.normal(size=(6, 30))
    data = rng.normal(size=(30, 3))

    def make():
        return Dense(weights=weights, num_message_bits=16)

    stock = _run_layer(make, data, Loihi2SimCfg(select_tag="floating_pt"))
    fast = _run_layer(make, data, fast_run_cfg())
    assert np.abs(stock).sum() > 0
    assert same_bits(fast, stock)
