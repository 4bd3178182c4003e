"""The iterative LIF against hand-computed sequences, and its surrogate gradient."""

import pytest
import torch

from sbn.errors import ConfigError
from sbn.models import LIF, LIFParameters, lif_multistep, lif_step
from sbn.models.neurons import lif_multistep_reference

PARAMS = LIFParameters(decay=0.5, v_th=1.0, surrogate_width=1.0)


def test_lif_sequence_by_hand():
    # u[t] = k u[t-1] (1 - o[t-1]) + x[t], o = 1{u >= 1}, k = 0.5
    # t1: u=0.6 -> 0 | t2: 0.3+0.6=0.9 -> 0 | t3: 0.45+0.6=1.05 -> 1
    # t4: reset, 0+1.2=1.2 -> 1 | t5: reset, 0+0.3=0.3 -> 0 | t6: 0.15+0.85=1.0 -> 1 (>= fires)
    x = torch.tensor([0.6, 0.6, 0.6, 1.2, 0.3, 0.85], dtype=torch.float64)
    u = torch.zeros((), dtype=torch.float64)
    o = torch.zeros((), dtype=torch.float64)
    spikes, potentials = [], []
    for xt in x:
        o, u = lif_step(xt, u, o, PARAMS)
        spikes.append(float(o))
        potentials.append(float(u))
    assert spikes == [0, 0, 1, 1, 0, 1]
    assert potentials == pytest.approx([0.6, 0.9, 1.05, 1.2, 0.3, 1.0], abs=1e-15)


def test_multistep_is_elementwise_over_time_axis():
    x = torch.tensor([[0.6, 2.0], [0.6, -1.0], [0.6, 0.5]], dtype=torch.float64)  # [T=3, 2]
    out = lif_multistep(x, PARAMS)
    # neuron 0: 0.6, 0.9, 1.05 -> 0 0 1; neuron 1: 2.0 -> 1, reset, -1.0 -> 0, -0.5+0.5=0 -> 0
    assert out.tolist() == [[0, 1], [0, 0], [1, 0]]
    assert torch.equal(LIF(PARAMS)(x), out)


def test_decay_one_is_integrate_and_fire():
    params = LIFParameters(decay=1.0, v_th=1.0)
    out = lif_multistep(torch.full((5, 1), 0.4, dtype=torch.float64), params)
    assert out[:, 0].tolist() == [0, 0, 1, 0, 0]  # 0.4, 0.8, 1.2 -> fire, reset, 0.4, 0.8


@pytest.mark.parametrize("width", [1.0, 0.5])
def test_rectangular_surrogate_gradient(width):
    params = LIFParameters(decay=0.5, v_th=1.0, surrogate_width=width)
    u = torch.tensor([0.0, 0.74, 0.76, 1.0, 1.24, 1.26, 1.6], requires_grad=True)
    o, _ = lif_step(u, torch.zeros(7), torch.zeros(7), params)
    o.sum().backward()
    inside = (u.detach() - 1.0).abs() < width / 2
    expected = inside.float() / width
    assert torch.equal(u.grad, expected)
    # hand check of the window edges for a = 1: |u - 1| < 0.5
    if width == 1.0:
        assert u.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]
    else:  # a = 0.5: |u - 1| < 0.25, height 2
        assert u.grad.tolist() == [0, 0, 2, 2, 2, 0, 0]


def test_gradient_flows_through_time_and_reset():
    x = torch.tensor([[0.9], [0.9]], requires_grad=True)
    out = lif_multistep(x, PARAMS)  # u1 = 0.9 (no spike), u2 = 0.45 + 0.9 = 1.35 -> spike
    out[1].sum().backward()
    # do2/du2 = 1 (|1.35-1| < .5); du2/dx2 = 1. u2 = k u1 (1 - o1) + x2 and u1 = x1, so
    # du2/dx1 = k (1 - o1) - k u1 do1/du1 = 0.5 - 0.5 * 0.9 * 1 = 0.05 (the reset is not detached)
    assert x.grad[:, 0].tolist() == pytest.approx([0.05, 1.0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"decay": 1.5}, "decay"),
        ({"v_th": 0.0}, "threshold"),
        ({"surrogate_width": 0.0}, "surrogate width"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LIFParameters(**kwargs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inference_path_is_bit_identical_to_the_reference(dtype):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(5, 3, 4, 6, 6, generator=g) * 1.5 + 0.5).to(dtype)
    with torch.no_grad():
        fast = lif_multistep(x, PARAMS)
    slow = lif_multistep_reference(x.clone().requires_grad_(True), PARAMS)
    assert torch.equal(fast, slow.detach())
    assert fast.dtype == dtype and 0 < float(fast.mean()) < 1
