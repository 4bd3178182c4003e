"""The CPU's channels-last layout (sbn.models.layers.fold_time) changes memory order only:
convolutions, tdBN and the LIF give what the NCHW path gives, and tdBN's statistics stay as
accurate as F.batch_norm's NCHW kernel (its channels-last kernel is not)."""

import pytest
import torch
import torch.nn.functional as F

from sbn.models import ModelConfig, TdBatchNorm, build_model
from sbn.models.layers import SeqConv2d
from sbn.models.norm import channel_statistics

CL = torch.channels_last


def _input(shape=(3, 4, 6, 9, 9), seed=0):
    g = torch.Generator().manual_seed(seed)
    # channels whose mean is large against their spread: where float sums lose most
    offsets = torch.linspace(-4.0, 6.0, shape[2]).view(1, 1, -1, 1, 1)
    return torch.randn(shape, generator=g) * 0.5 + offsets


def _as_channels_last(x):
    t, b = x.shape[:2]
    return x.flatten(0, 1).contiguous(memory_format=CL).unflatten(0, (t, b))


def test_convolutions_hand_over_channels_last_with_the_same_values():
    conv = SeqConv2d(6, 5, 3, padding=1, bias=False)
    x = (_input() > 0.5).float()  # spikes, as the convolutions see them
    y = conv(x)
    assert y.flatten(0, 1).is_contiguous(memory_format=CL)
    torch.testing.assert_close(
        y, F.conv2d(x.flatten(0, 1), conv.weight, padding=1).unflatten(0, (3, 4)), rtol=1e-6, atol=1e-6
    )


def test_channel_statistics_match_float64():
    x = _input((2, 5, 7, 16, 16)).flatten(0, 1).contiguous(memory_format=CL)
    mean, var = channel_statistics(x)
    exact = x.double()
    torch.testing.assert_close(mean.double(), exact.mean((0, 2, 3)), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(var.double(), exact.var((0, 2, 3), unbiased=False), rtol=1e-6, atol=0)


def test_tdbn_training_on_channels_last_is_as_accurate_as_on_nchw():
    """Against a float64 reference: 4e-5 off with F.batch_norm's channels-last kernel."""
    x = _input((4, 8, 16, 16, 16), seed=1)
    bn = TdBatchNorm(16, alpha=0.7).train()
    exact = TdBatchNorm(16, alpha=0.7).double().train()(x.double())
    y = bn(_as_channels_last(x))
    assert y.flatten(0, 1).is_contiguous(memory_format=CL)
    assert float((y.detach().double() - exact.detach()).abs().max()) < 2e-6


@pytest.mark.parametrize("momentum", [0.1, None])
def test_tdbn_training_on_channels_last_equals_nchw(momentum):
    x, upstream = _input(seed=2), torch.randn(3, 4, 6, 9, 9, generator=torch.Generator().manual_seed(3))
    results = []
    for layout in (lambda v: v, _as_channels_last):
        bn = TdBatchNorm(6, alpha=0.7, v_th=1.5, momentum=momentum).train()
        with torch.no_grad():
            bn.weight.copy_(torch.linspace(0.5, 2.0, 6))
            bn.bias.copy_(torch.linspace(-0.3, 0.3, 6))
        leaf = layout(x.clone()).requires_grad_()
        for _ in range(2):  # two updates of the running statistics
            y = bn(leaf)
        (y * upstream).sum().backward()
        results.append((y.detach(), leaf.grad, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var))
    for nchw, channels_last in zip(*results):
        torch.testing.assert_close(channels_last, nchw, rtol=1e-5, atol=1e-5)


def test_a_model_gives_the_nchw_spikes_and_gradients(monkeypatch):
    import sbn.models.layers as layers

    config = ModelConfig(width=0.0625, layers=(1, 1, 1, 1), time_steps=2, num_classes=10)
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    results = []
    for fold in (layers.fold_time, lambda x: x.flatten(0, 1)):
        monkeypatch.setattr(layers, "fold_time", fold)
        torch.manual_seed(0)
        model = build_model(config).train()
        logits = model(images)
        F.cross_entropy(logits, torch.arange(6) % 10).backward()
        results.append((logits.detach(), {n: p.grad for n, p in model.named_parameters()}))
    (cl_logits, cl_grads), (logits, grads) = results
    torch.testing.assert_close(cl_logits, logits, rtol=1e-5, atol=1e-5)
    for name, grad in grads.items():
        torch.testing.assert_close(cl_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)
