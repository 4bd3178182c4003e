"""The LIF's training path (one autograd node per sequence) against the reference, autograd
through ``lif_step``: the same spikes bit for bit, the same gradients within rounding."""

import pytest
import torch

import sbn.models.neurons as neurons
from sbn.models import ModelConfig, build_model
from sbn.models.neurons import LIFParameters, lif_multistep, lif_multistep_reference

CASES = [
    (LIFParameters(), 4),
    (LIFParameters(decay=1.0, v_th=0.5, surrogate_width=1.0), 2),
    (LIFParameters(decay=0.3, v_th=1.3, surrogate_width=2.5), 6),
    (LIFParameters(), 1),
]


def _spikes_and_gradient(fn, x, upstream):
    leaf = x.clone().requires_grad_()
    spikes = fn(leaf)
    (spikes * upstream).sum().backward()
    return spikes.detach(), leaf.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("params, steps", CASES)
def test_sequence_node_equals_the_reference(params, steps, dtype):
    g = torch.Generator().manual_seed(steps)
    x = (torch.randn(steps, 3, 8, 5, 5, generator=g) * 1.5 + 0.6).to(dtype)
    upstream = torch.randn(x.shape, generator=g).to(dtype)
    ref_spikes, ref_grad = _spikes_and_gradient(lambda v: lif_multistep_reference(v, params), x, upstream)
    spikes, grad = _spikes_and_gradient(lambda v: lif_multistep(v, params), x, upstream)
    assert 0.05 < float(ref_spikes.mean()) < 0.95  # spikes and resets both happen
    assert torch.equal(spikes, ref_spikes) and spikes.dtype == dtype
    # the window is hit and the reset's gradient matters (k u g differs from 0)
    assert int((grad != 0).sum()) > x.numel() // 4
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)


def test_a_strided_input_and_gradient():
    """A permuted input (not contiguous) and an upstream gradient that is a transposed view."""
    params = LIFParameters()
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(4, 6, 2, 5, generator=g) * 1.5 + 0.6).permute(0, 3, 2, 1)  # [T=4, 5, 2, 6]
    upstream = torch.randn(4, 6, 2, 5, generator=g).permute(0, 3, 2, 1)
    ref = _spikes_and_gradient(lambda v: lif_multistep_reference(v, params), x, upstream)
    fast = _spikes_and_gradient(lambda v: lif_multistep(v, params), x, upstream)
    assert torch.equal(fast[0], ref[0])
    torch.testing.assert_close(fast[1], ref[1], rtol=1e-5, atol=1e-6)


def test_window_edges_are_those_of_the_reference():
    """Potentials on and next to the surrogate window's edges |u - V_th| = a/2."""
    params = LIFParameters(decay=0.5, v_th=1.0, surrogate_width=4.0)
    edge = torch.tensor([-1.0, 3.0])
    u = torch.cat(
        [
            edge,
            torch.nextafter(edge, edge + 1),
            torch.nextafter(edge, edge - 1),
            torch.tensor([1.0, 0.0, -1.0 + 2.0**-24]),
        ]
    )
    x = u[None]  # T = 1: u[0] = x[0]
    ref = _spikes_and_gradient(lambda v: lif_multistep_reference(v, params), x, torch.ones_like(x))
    fast = _spikes_and_gradient(lambda v: lif_multistep(v, params), x, torch.ones_like(x))
    assert torch.equal(fast[0], ref[0]) and torch.equal(fast[1], ref[1])


def test_a_whole_model_trains_the_same(monkeypatch):
    """Logits and every parameter's gradient of a small net, fast path against the reference."""
    config = ModelConfig(width=0.0625, layers=(1, 1, 1, 1), time_steps=3, num_classes=10)
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(6) % 10
    results = []
    for fn in (lif_multistep, lif_multistep_reference):
        monkeypatch.setattr(neurons, "lif_multistep", fn)
        torch.manual_seed(0)
        model = build_model(config).train()
        logits = model(images)
        torch.nn.functional.cross_entropy(logits, labels).backward()
        results.append((logits.detach(), {n: p.grad for n, p in model.named_parameters()}))
    (fast_logits, fast_grads), (ref_logits, ref_grads) = results
    assert torch.equal(fast_logits, ref_logits)
    assert float(ref_grads["stem.0.weight"].abs().sum()) > 0  # through every LIF of the net
    for name, grad in ref_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
