"""Fine-tuning through bit errors on the payload (``sbn train --channel bsc:P``)."""

from __future__ import annotations

import pytest
import torch

from sbn.errors import ConfigError
from sbn.models import BottleneckConfig, ModelConfig, build_model
from sbn.train import TrainSettings
from sbn.train_channel import flip_spikes, noisy_payload

SBN = ModelConfig(
    num_classes=10, width=0.0625, layers=(1, 1, 1, 1), time_steps=2, bottleneck=BottleneckConfig(2, 4, 1)
)


def test_flips_at_the_rate_with_a_straight_through_gradient():
    torch.manual_seed(0)
    spikes = (torch.rand(200_000) < 0.2).float().requires_grad_()
    out = flip_spikes(spikes, 0.1)
    assert set(out.unique().tolist()) == {0.0, 1.0}
    assert (out != spikes).float().mean().item() == pytest.approx(0.1, abs=0.003)
    weights = torch.randn(200_000)
    (out * weights).sum().backward()
    assert torch.equal(spikes.grad, weights)  # as if nothing had been flipped


def test_noise_only_in_training_mode_and_only_while_open():
    torch.manual_seed(1)
    model = build_model(SBN)
    images = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        model.eval()
        reference = model(images)
        with noisy_payload(model, "bsc:0.5"):
            assert torch.equal(model(images), reference)  # eval mode: clean payloads
            model.train()  # train-mode norms use the batch's statistics: comparable runs
            torch.manual_seed(2)
            noisy = model(images)
        torch.manual_seed(2)
        after = model(images)
    assert not torch.equal(noisy, after)
    assert len(model.bottleneck.enc_act._forward_hooks) == 0  # the hook is gone


@pytest.mark.parametrize(
    "spec, message",
    [
        ("erasure:0.1", "training flips spikes, so it takes bsc:P or awgn:EBN0_DB"),
        ("bsc:2", "must be in [0, 1], got 2"),
    ],
)
def test_settings_refuse_channels_training_cannot_apply(spec, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TrainSettings(channel=spec)


def test_a_model_without_a_spiking_bottleneck_is_refused():
    with pytest.raises(ConfigError, match="a spiking bottleneck"):
        with noisy_payload(
            build_model(ModelConfig(num_classes=10, width=0.0625, layers=(1, 1, 1, 1))), "bsc:0.01"
        ):
            pass


def test_cli_step_1_with_a_channel_is_one_line(tmp_path):
    import subprocess
    import sys

    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sbn.cli import main; main()",
            "train",
            "--out",
            str(tmp_path / "x.safetensors"),
            "--channel",
            "bsc:0.01",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("error: --channel trains through bit errors on a SpikeBottleNet's spikes")


def test_a_fine_tune_through_the_channel_records_it(tmp_path):
    from sbn import checkpoint as ckpt_io
    from sbn.data import load_dataset
    from sbn.train import train

    settings = TrainSettings(epochs=1, batch_size=32, train_samples=64, test_samples=32, channel="bsc:0.05")
    result = train(
        SBN,
        settings,
        load_dataset("digits", train=True),
        load_dataset("digits"),
        tmp_path / "noisy.safetensors",
    )
    saved = ckpt_io.load(tmp_path / "noisy.safetensors")
    assert saved.training["settings"]["channel"] == "bsc:0.05"
    assert len(result.model.bottleneck.enc_act._forward_hooks) == 0
