"""The fused LIF loop against the model's eager LIF: same spikes, same gradients."""

import pytest
import torch

from sbn.models import ModelConfig, build_model
from sbn.models.neurons import LIF, LIFParameters, lif_multistep_reference
from sbn.train_fused_lif import FusedLIF, fused_lif_multistep, use_lif_kernel

CASES = [
    (LIFParameters(), 4),
    (LIFParameters(decay=1.0, v_th=0.5, surrogate_width=1.0), 2),
    (LIFParameters(decay=0.25, surrogate_width=2.0), 6),
]


def _run(fn, x):
    """(spikes, dL/dx) of ``fn`` for one random (seeded) upstream gradient."""
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    leaf = x.clone().requires_grad_()
    spikes = fn(leaf)
    (spikes * grad).sum().backward()
    return spikes.detach(), leaf.grad


def _both(x, params, compiled):
    """(spikes, dL/dx) of the eager and the fused path for one random upstream gradient."""
    return [
        _run(lambda v: lif_multistep_reference(v, params), x),
        _run(lambda v: fused_lif_multistep(v, params, compiled), x),
    ]


@pytest.mark.parametrize("params, steps", CASES)
def test_fused_loop_equals_eager_autograd(params, steps):
    x = torch.randn(steps, 3, 8, 5, 5, generator=torch.Generator().manual_seed(0)) * 1.5 + 0.6
    (s_eager, g_eager), (s_fused, g_fused) = _both(x, params, compiled=False)
    assert 0.05 < float(s_eager.mean()) < 0.95  # the case exercises spikes and resets
    assert torch.equal(s_fused, s_eager)
    torch.testing.assert_close(g_fused, g_eager, rtol=1e-5, atol=1e-6)


def test_inference_path_and_module_swap_keep_outputs_and_weights():
    model = build_model(ModelConfig(width=0.0625, layers=(1, 1, 1, 1), time_steps=2)).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        before = model(images)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        use_lif_kernel(model, "fused")
        for m in model.modules():
            if isinstance(m, FusedLIF):
                m.compiled = False  # the loop itself; compilation is the slow test's
        assert sum(isinstance(m, FusedLIF) for m in model.modules()) > 10
        assert torch.equal(model(images), before)
    assert model.state_dict().keys() == state.keys()
    use_lif_kernel(model, "eager")
    assert not any(isinstance(m, FusedLIF) for m in model.modules())
    assert all(type(m) is LIF for m in model.modules() if isinstance(m, LIF))


@pytest.mark.slow
def test_compiled_loop_equals_eager():
    """torch.compile of both loops (needs a C++ compiler on the CPU; minutes the first time)."""
    from sbn.errors import ConfigError
    from sbn.train_fused_lif import check_compiler

    x = torch.randn(4, 2, 6, 7, 7, generator=torch.Generator().manual_seed(2)) * 1.5 + 0.6
    params = LIFParameters()
    s_eager, g_eager = _run(lambda v: lif_multistep_reference(v, params), x)  # no compiler involved
    try:  # the one thing a machine may lack: what `sbn train --lif fused` refuses on
        check_compiler(torch.device("cpu"))
    except ConfigError as exc:
        pytest.skip(str(exc))
    # from here any exception, or a difference, is a failure of the fused loop
    s_fused, g_fused = _run(lambda v: fused_lif_multistep(v, params, compiled=True), x)
    assert 0.05 < float(s_eager.mean()) < 0.95
    assert torch.equal(s_fused, s_eager)
    torch.testing.assert_close(g_fused, g_eager, rtol=1e-5, atol=1e-6)


def test_a_machine_that_cannot_compile_is_refused_in_one_line(monkeypatch):
    import sbn.train_fused_lif as fused
    from sbn.errors import ConfigError

    def broken(*args, **kwargs):
        raise RuntimeError("InductorError: no working C++ compiler\nmore lines")

    monkeypatch.setattr(fused, "fused_lif_multistep", broken)
    with pytest.raises(ConfigError) as refused:
        fused.check_compiler(torch.device("cpu"))
    message = str(refused.value)
    assert message.startswith("--lif fused: torch.compile cannot build the fused loop on cpu")
    assert "no working C++ compiler" in message and "\n" not in message and "use --lif eager" in message
