"""Output shapes of RB1..RB16 for both models, full width and reduced, read off real forwards."""

import copy

import numpy as np
import pytest
import torch

from sbn.graph import execute, partition
from sbn.graph.export import export_nir
from sbn.models import (
    BottleneckConfig,
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


def test_spiking_activations_are_binary(calibrate):
    """Calibrated, so that every block fires: a fresh model's blocks mostly stay silent, and
    an all-zero output is binary whatever the neuron does."""
    model = calibrate(ModelConfig(kind="spiking", num_classes=10, time_steps=2, width=0.0625), seed=0)
    seen = []
    hooks = [b.sn3.register_forward_hook(lambda m, i, o: seen.append(o)) for b in model.blocks]
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    for h in hooks:
        h.remove()
    assert len(seen) == 16
    for k, out in enumerate(seen, start=1):
        assert set(out.unique().tolist()) == {0.0, 1.0}, f"RB{k}"


@pytest.mark.parametrize(
    "split, channels, stride, expected",
    [
        (16, 32, 2, (4, 2, 32, 2, 2)),
        (7, 16, 1, (4, 2, 16, 16, 16)),
        (1, 8, 2, (4, 2, 8, 16, 16)),
    ],
)
def test_spikebottlenet_payload(split, channels, stride, expected, calibrate):
    """A calibrated model (a fresh one sends only zeros); the logits are checked against the
    exported graph cut at the split, stepped by the reference executor: device part on the
    images gives the payload, edge part on the payload gives the logits."""
    config = ModelConfig(
        kind="spiking",
        num_classes=10,
        time_steps=4,
        width=0.0625,
        bottleneck=BottleneckConfig(split, channels, stride),
    )
    model = copy.deepcopy(calibrate(config, seed=0)).double()  # float64: the executor's numbers
    images = torch.rand(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, payload = model(images, return_payload=True)
        silent = model.edge(torch.zeros_like(payload))
    assert payload.shape == expected
    assert logits.shape == (2, 10)
    assert set(payload.unique().tolist()) == {0.0, 1.0}
    assert 0.05 < float(payload.mean()) < 0.6  # measured 0.22..0.28
    assert not torch.allclose(silent, logits, atol=1e-3)  # the logits depend on what is sent

    device, edge = partition(export_nir(model), f"RB{split}")
    x = np.broadcast_to(images.numpy(), (4, *images.shape))
    np.testing.assert_array_equal(execute(device, x).outputs["output"], payload.numpy())
    per_step = execute(edge, payload.numpy()).outputs["output"]
    np.testing.assert_allclose(per_step.mean(axis=0), logits.numpy(), rtol=0, atol=1e-12)


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
