"""Device and precision resolution: what each spec means, and the one-line refusals."""

import pytest
import torch

from sbn.device import resolve_device
from sbn.errors import ConfigError
from sbn.train_precision import precision_for


@pytest.fixture
def gpus(monkeypatch):
    """``gpus(n, bf16=True)``: make torch report ``n`` CUDA devices (the logic only)."""

    def fake(n, bf16=True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)

    return fake


def test_auto_is_the_cpu_without_a_gpu(gpus):
    gpus(0)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


def test_auto_is_the_first_gpu_and_indices_are_checked(gpus):
    gpus(2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("CUDA") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match=r"--device cuda:2: this machine has 2 GPU\(s\), cuda:0..cuda:1"):
        resolve_device("cuda:2")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("cuda", "--device cuda: torch sees no CUDA GPU on this machine; use --device cpu"),
        ("cuda:0", "--device cuda:0: torch sees no CUDA GPU"),
        ("gpu", "unknown device 'gpu': use auto, cpu, cuda or cuda:N"),
        ("cuda:x", "unknown device 'cuda:x'"),
    ],
)
def test_bad_devices_are_refused(gpus, spec, message):
    gpus(0)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        resolve_device(spec)


def test_precisions_per_device(gpus):
    cpu = torch.device("cpu")
    assert precision_for("bf16", cpu).autocast() is not None
    with pytest.raises(
        ConfigError, match=r"--precision fp16 cannot run on cpu \(fp16 needs a CUDA GPU\); use fp32 or bf16"
    ):
        precision_for("fp16", cpu)
    gpus(1, bf16=False)  # a pre-Ampere GPU
    with pytest.raises(ConfigError, match=r"--precision bf16 cannot run on cuda:0 .*use fp32 or fp16"):
        precision_for("bf16", torch.device("cuda", 0))
    assert precision_for("fp16", torch.device("cuda", 0)).name == "fp16"
    with pytest.raises(ConfigError, match="unknown precision 'fp8'"):
        precision_for("fp8", cpu)


def test_bf16_autocast_runs_the_convolutions_in_bf16_on_the_cpu():
    conv = torch.nn.Conv2d(3, 4, 3)
    with precision_for("bf16", torch.device("cpu")).autocast():
        y = conv(torch.rand(1, 3, 8, 8))
    assert y.dtype == torch.bfloat16
    # fp32 is IEEE fp32 (no TF32 convolutions inside, restored after), only fp16 scales the loss
    cudnn = torch.backends.cudnn.conv
    before = cudnn.fp32_precision
    with precision_for("fp32", torch.device("cpu")).autocast():
        assert cudnn.fp32_precision == "ieee"
        assert conv(torch.rand(1, 3, 8, 8)).dtype == torch.float32
    assert cudnn.fp32_precision == before
    assert not precision_for("bf16", torch.device("cpu")).grad_scaler().is_enabled()
