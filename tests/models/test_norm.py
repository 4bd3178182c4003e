"""tdBN: statistics over batch, time, height and width per channel; alpha * V_th scaling."""

import math

import pytest
import torch

from sbn.models import TdBatchNorm


def _input(seed=0):
    g = torch.Generator().manual_seed(seed)
    # [T=3, B=4, C=2, H=5, W=5], channels with different offsets and spreads
    x = torch.randn(3, 4, 2, 5, 5, generator=g, dtype=torch.float64)
    return x * torch.tensor([1.0, 3.0]).view(1, 1, 2, 1, 1) + torch.tensor([0.5, -2.0]).view(1, 1, 2, 1, 1)


def test_training_statistics_by_hand():
    alpha, v_th = 1 / math.sqrt(2), 1.5
    bn = TdBatchNorm(2, alpha=alpha, v_th=v_th).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.1, -0.3]))
    x = _input()
    y = bn.train()(x)
    mean = x.mean(dim=(0, 1, 3, 4))
    var = x.var(dim=(0, 1, 3, 4), unbiased=False)
    x_hat = alpha * v_th * (x - mean.view(1, 1, 2, 1, 1)) / torch.sqrt(var.view(1, 1, 2, 1, 1) + bn.eps)
    expected = bn.weight.view(1, 1, 2, 1, 1) * x_hat + bn.bias.view(1, 1, 2, 1, 1)
    assert torch.allclose(y, expected, rtol=0, atol=1e-12)
    # per channel over (T, B, H, W) the output has mean beta and std lambda * alpha * V_th
    assert torch.allclose(y.mean(dim=(0, 1, 3, 4)), bn.bias, atol=1e-12)
    std = y.std(dim=(0, 1, 3, 4), unbiased=False)
    assert torch.allclose(std, bn.weight * alpha * v_th * torch.sqrt(var / (var + bn.eps)), atol=1e-12)
    # running statistics: momentum 0.1 from (0, 1), unbiased variance (n = 3*4*5*5 = 300)
    n = 300
    assert torch.allclose(bn.running_mean, 0.1 * mean, atol=1e-12)
    assert torch.allclose(bn.running_var, 0.9 + 0.1 * var * n / (n - 1), atol=1e-12)


def test_eval_uses_running_stats_and_matches_folded_affine():
    bn = TdBatchNorm(2, alpha=0.5, v_th=2.0).double()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.3, -1.0]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25]))
        bn.weight.copy_(torch.tensor([1.5, -0.7]))
        bn.bias.copy_(torch.tensor([0.2, 0.4]))
    x = _input(1)
    y = bn.eval()(x)
    scale, shift = bn.folded()
    assert scale.dtype == torch.float64
    by_hand = torch.tensor(
        [1.5 * 0.5 * 2.0 / math.sqrt(4.0 + 1e-5), -0.7 * 0.5 * 2.0 / math.sqrt(0.25 + 1e-5)],
        dtype=torch.float64,
    )
    assert torch.allclose(scale, by_hand, atol=1e-15)
    assert torch.allclose(shift, bn.bias.double() - bn.running_mean.double() * by_hand, atol=1e-15)
    assert torch.allclose(y, scale.view(1, 1, 2, 1, 1) * x + shift.view(1, 1, 2, 1, 1), atol=1e-12)


def test_unit_scaling_is_plain_batchnorm():
    x = _input(2).float()
    td = TdBatchNorm(2).train()
    plain = torch.nn.BatchNorm2d(2).train()
    assert torch.allclose(td(x), plain(x.flatten(0, 1)).unflatten(0, (3, 4)), atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 2, 4, 4), (1, 1, 2, 1, 1)])
def test_shape_is_kept(shape):
    assert TdBatchNorm(2).eval()(torch.randn(shape)).shape == shape


def test_momentum_none_is_a_cumulative_average():
    bn = TdBatchNorm(2).double()
    bn.momentum = None
    batches = [_input(seed) for seed in range(3)]
    for x in batches:
        bn.train()(x)
    means = torch.stack([x.mean(dim=(0, 1, 3, 4)) for x in batches])
    assert torch.allclose(bn.running_mean, means.mean(0), atol=1e-12)
    assert int(bn.num_batches_tracked) == 3


def test_head_norm_is_on_for_the_spiking_net_and_off_for_old_configs():
    from sbn.models import ModelConfig, build_model

    spiking, ann = ModelConfig(width=0.0625), ModelConfig(kind="ann", width=0.0625)
    assert spiking.head_norm is True and ann.head_norm is False
    assert ModelConfig.from_dict(spiking.to_dict()) == spiking
    old = spiking.to_dict()
    del old["head_norm"]  # a checkpoint written before the head norm existed
    assert ModelConfig.from_dict(old).head_norm is False
    assert "head_norm.weight" in build_model(spiking).state_dict()
    assert not any(k.startswith("head_norm") for k in build_model(ModelConfig.from_dict(old)).state_dict())


def test_head_norm_standardises_the_pooled_features():
    from sbn.models import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(width=0.0625, num_classes=10, time_steps=2)).train()
    seen = {}
    model.head_norm.register_forward_pre_hook(lambda m, i: seen.update(raw=i[0][0, :, :, 0, 0].detach()))
    model.fc.register_forward_pre_hook(lambda m, i: seen.update(x=i[0].detach()))
    images = torch.rand(16, 3, 32, 32)
    model(images)
    raw = seen["raw"]  # (B, C): the spike rates pooled over T, H, W
    want = (raw - raw.mean(0)) / torch.sqrt(raw.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(seen["x"], want, atol=1e-5, rtol=0)
    assert raw.std(0).max() < 0.2 < seen["x"].std(0).max()  # the rates vary little; the FC sees O(1)


def test_a_fresh_spiking_block_passes_its_input_spikes_through():
    from sbn.models import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(width=0.0625, num_classes=10, time_steps=2)).eval()
    block = model.blocks[1]  # an identity shortcut (no projection)
    assert block.downsample is None and torch.all(block.bn3.weight == 0)
    assert torch.all(block.bn3.bias == 0.25)  # V_th min(1/4, (1 - k)/2) with k = 0.5
    for steps in (2, 8):  # the margin never charges a silent neuron up to V_th
        spikes = (torch.rand(steps, 3, block.conv1.in_channels, 8, 8) < 0.3).float()
        assert torch.equal(block(spikes), spikes)
    assert torch.all(build_model(ModelConfig(kind="ann", width=0.0625)).blocks[1].bn3.weight == 1)


@pytest.mark.parametrize(
    "decay, v_th, margin", [(0.5, 1.0, 0.25), (0.25, 2.0, 0.5), (0.8, 1.0, 0.1), (1.0, 1.0, 0.0)]
)
def test_identity_margin_stays_below_the_threshold(decay, v_th, margin):
    from sbn.models.neurons import LIFParameters
    from sbn.models.resnet import identity_margin

    m = identity_margin(LIFParameters(decay=decay, v_th=v_th))
    assert m == pytest.approx(margin)
    assert decay == 1.0 or m / (1 - decay) < v_th  # the silent neuron's limit: no spike ever
