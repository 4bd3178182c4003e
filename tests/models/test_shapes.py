"""Output shapes of RB1..RB16 for both models, full width and reduced, read off real forwards."""

import pytest
import torch

from sbn.models import (
    ModelConfig,
    block_output_shapes,
    bottlenet_pp,
    build_model,
    resnet50,
    spikebottlenet,
    spiking_resnet50,
)

# the method's table: RB1-3 256x32x32, RB4-7 512x16x16, RB8-13 1024x8x8, RB14-16 2048x4x4
PAPER = [(256, 32, 32)] * 3 + [(512, 16, 16)] * 4 + [(1024, 8, 8)] * 6 + [(2048, 4, 4)] * 3


def _block_outputs(model, images):
    """(C, H, W) of each RB's output, per time step, from forward hooks."""
    shapes = []
    hooks = [b.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape))) for b in model.blocks]
    with torch.no_grad():
        model.eval()(images)
    for h in hooks:
        h.remove()
    return shapes


@pytest.mark.parametrize("kind", ["spiking", "ann"])
def test_full_width_shapes_from_config(kind):
    assert block_output_shapes(ModelConfig(kind=kind)) == PAPER


@pytest.mark.parametrize(
    "build, time_dim",
    [
        (lambda: spiking_resnet50(num_classes=100, time_steps=2), 2),
        (lambda: resnet50(num_classes=100), 1),
    ],
)
def test_full_width_forward_on_cpu(build, time_dim):
    model = build()
    assert sum(p.numel() for p in model.parameters()) > 23_000_000  # ResNet50-sized
    shapes = _block_outputs(model, torch.rand(1, 3, 32, 32))
    assert [s[2:] for s in shapes] == PAPER
    assert all(s[:2] == (time_dim, 1) for s in shapes)


@pytest.mark.parametrize("kind", ["spiking", "ann"])
def test_reduced_model_keeps_topology(kind):
    config = ModelConfig(kind=kind, num_classes=10, width=0.0625, time_steps=2)
    model = build_model(config)
    shapes = _block_outputs(model, torch.rand(2, 3, 32, 32))
    assert len(shapes) == 16
    assert [s[2:] for s in shapes] == [(c // 16, h, w) for c, h, w in PAPER]
    assert [s[2:] for s in shapes] == block_output_shapes(config)
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)


def test_spiking_activations_are_binary():
    model = spiking_resnet50(num_classes=10, time_steps=2, width=0.0625).eval()
    seen = []
    hooks = [b.sn3.register_forward_hook(lambda m, i, o: seen.append(o)) for b in model.blocks]
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    values = torch.cat([s.flatten() for s in seen]).unique()
    assert set(values.tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "split, channels, stride, expected",
    [
        (16, 32, 2, (4, 2, 32, 2, 2)),
        (7, 16, 1, (4, 2, 16, 16, 16)),
        (1, 8, 2, (4, 2, 8, 16, 16)),
    ],
)
def test_spikebottlenet_payload(split, channels, stride, expected):
    model = spikebottlenet(split, channels, stride, num_classes=10, time_steps=4, width=0.0625).eval()
    with torch.no_grad():
        logits, payload = model(torch.rand(2, 3, 32, 32), return_payload=True)
        assert torch.equal(model.edge(payload), logits)
    assert payload.shape == expected
    assert set(payload.unique().tolist()) <= {0.0, 1.0}
    assert logits.shape == (2, 10)


def test_bottlenetpp_payload_is_8bit():
    model = bottlenet_pp(16, 32, 2, num_classes=10, width=0.0625).eval()
    with torch.no_grad():
        logits, payload = model(torch.rand(3, 3, 32, 32), return_payload=True)
    assert payload.shape == (1, 3, 32, 2, 2)  # the ANN runs one time step
    levels = payload * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    assert 0 <= float(payload.min()) and float(payload.max()) <= 1


def test_full_width_spikebottlenet_forward():
    model = spikebottlenet(16, 32, 2, num_classes=100, time_steps=2).eval()
    with torch.no_grad():
        logits, payload = model(torch.rand(1, 3, 32, 32), return_payload=True)
    assert payload.shape == (2, 1, 32, 2, 2)
    assert logits.shape == (1, 100)
