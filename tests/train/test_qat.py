"""Quantisation-aware fine-tuning (``sbn.qat``, ``sbn train --quantize``): the rounding it trains
through is the one ``sbn quantize`` stores, bit for bit; the float forward comes back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_run import ONE_QUICK_EPOCH

from sbn import checkpoint as ckpt_io
from sbn.errors import ConfigError
from sbn.models import BottleneckConfig, ModelConfig
from sbn.qat import device_pairs, fake_quantized, quantize_weight
from sbn.targets import get_target

LOIHI2 = get_target("loihi2")
CONFIG = ModelConfig(
    width=0.0625,
    layers=(1, 1, 1, 1),
    image_size=32,
    num_classes=10,
    time_steps=2,
    bottleneck=BottleneckConfig(2, 4, 1),
)


@pytest.fixture(scope="module")
def model(calibrate):
    return calibrate(CONFIG, seed=4)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    from sbn.graph import export_checkpoint

    root = tmp_path_factory.mktemp("qat")
    ckpt_io.save(root / "m.safetensors", ckpt_io.Checkpoint(config=CONFIG, model_state=model.state_dict()))
    export_checkpoint(root / "m.safetensors", root / "export")
    return root


def test_the_rounding_is_the_quantisers_bit_for_bit(model, exported):
    from sbn.graph import conventions
    from sbn.graph.io import load_nir
    from sbn.targets.quantize import quantize

    graph = load_nir(exported / "export" / "device.nir")
    q = quantize(graph, LOIHI2)
    fmt = LOIHI2.fixed_point
    by_module = {node.metadata.get(conventions.KEY_MODULE): name for name, node in graph.nodes.items()}
    pairs = device_pairs(model)
    assert len(pairs) == len([p for p in q.projections.values() if p.kind == "conv"])
    names = {m: n for n, m in model.named_modules()}
    for conv, bn, _, graded in pairs:
        p = q.projections[by_module[names[conv]]]
        sigma = q.neurons[p.target].sigma
        scale, _ = bn.folded()
        weight = conv.weight.detach().double() * scale.reshape(-1, 1, 1, 1)
        if graded:
            weight = weight / fmt.input_max
        rounded = quantize_weight(weight, sigma, fmt) * sigma
        assert p.graded == graded
        assert np.array_equal(rounded.numpy(), p.weight.astype(np.float64)), p.name


def test_the_float_forward_comes_back_and_statistics_stay(model):
    from sbn.train import recalibrate_norm

    images = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        before = model(images)
        with fake_quantized(model, LOIHI2):
            inside = model(images)
        after = model(images)
    assert torch.equal(before, after)
    assert not torch.equal(before, inside)  # the rounding is in the forward

    # training passes and precise-BN recalibration leave the folded (device) statistics alone
    from sbn.data import ImageDataset

    data = ImageDataset("random", images, torch.zeros(3, dtype=torch.int64), 10)
    device = [bn for _, bn, _, _ in device_pairs(model)]
    edge = model.bottleneck.dec_bn
    stats = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in device]
    edge_before = edge.running_mean.clone()
    with torch.no_grad(), fake_quantized(model, LOIHI2):
        model.train()
        model(images)
        recalibrate_norm(model, data, 3)
        model.eval()
    for (mean, var), bn in zip(stats, device):
        assert torch.equal(mean, bn.running_mean) and torch.equal(var, bn.running_var)
    assert not torch.equal(edge_before, edge.running_mean)  # the edge's norms still learn


def test_gradients_reach_weights_and_norm_parameters(model):
    model.zero_grad()
    with fake_quantized(model, LOIHI2):
        model.train()
        # a loss, not the sum of the logits: the head norm (train mode) makes the summed
        # logits independent of the features, and their gradient exactly zero
        logits = model(torch.rand(4, 3, 32, 32))
        torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
        model.eval()
    conv, bn, _, _ = device_pairs(model)[1]
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    assert bn.weight.grad is not None and bn.bias.grad is not None
    model.zero_grad()


def test_a_model_without_a_split_or_a_format_is_refused(calibrate):
    with pytest.raises(ConfigError, match="needs a SpikeBottleNet"):
        with fake_quantized(calibrate(ModelConfig(width=0.0625, layers=(1, 1, 1, 1)), seed=0), LOIHI2):
            pass
    with pytest.raises(ConfigError, match="'rolls' states no fixed-point format"):
        with fake_quantized(calibrate(CONFIG, seed=0), get_target("rolls")):
            pass


SBN = Path(sys.executable).parent / "sbn"


def sbn(*args):
    return subprocess.run([str(SBN), *map(str, args)], capture_output=True, text=True, timeout=600)


def test_train_quantize_from_the_command_line(exported, tmp_path):
    out = tmp_path / "qat.safetensors"
    done = sbn(
        "train",
        "--from",
        exported / "m.safetensors",
        "--quantize",
        "loihi2",
        "--out",
        out,
        *ONE_QUICK_EPOCH,
        "--device",
        "cpu",  # where the accuracies are recomputed below
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["quantized_for"] == "loihi2" and summary["settings"]["quantize"] == "loihi2"
    assert summary["float_sha256"] == ckpt_io.file_sha256(exported / "m.safetensors")
    # the two reference figures, recomputed: the saved float model on the run's 32 test
    # images (the CLI's batch size, 64), as saved and then through loihi2's rounding
    from sbn.data import load_dataset
    from sbn.train_eval import evaluate

    test_data = load_dataset("digits", train=False).subset(32)
    float_model = ckpt_io.load(exported / "m.safetensors").build()
    float_accuracy = evaluate(float_model, test_data, 64)
    with fake_quantized(float_model, LOIHI2):
        quantized_accuracy = evaluate(float_model, test_data, 64)
    assert float_accuracy != quantized_accuracy  # the case tells the two apart
    assert summary["float_accuracy"] == pytest.approx(float_accuracy, abs=1e-12)
    assert summary["quantized_accuracy_before"] == pytest.approx(quantized_accuracy, abs=1e-12)
    saved = ckpt_io.load(out)
    assert saved.config == CONFIG  # the same model, fine-tuned
    for args, message in (
        (["--quantize", "rolls"], "'rolls' states no fixed-point format"),
        (["--quantize", "loihi2", "--split", "RB1"], "--split comes from the checkpoint"),
    ):
        bad = sbn("train", "--from", exported / "m.safetensors", "--out", tmp_path / "x.safetensors", *args)
        assert bad.returncode == 1 and message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    plain = sbn("train", "--quantize", "loihi2", "--out", tmp_path / "y.safetensors")
    assert plain.returncode == 1 and "give it with --from" in plain.stderr
