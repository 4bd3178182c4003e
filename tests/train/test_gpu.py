"""The GPU paths, where a GPU is: skipped on machines without one (this project's CI so far).

They run in the default suite the first time a session has a GPU, and check what the CPU
could not: training on ``cuda`` in each precision and layout writes a checkpoint that loads
on the CPU, the compiled (Triton) fused LIF against the eager one, and the device loader
against the CPU one.
"""

import pytest
import torch

from sbn import checkpoint as ckpt_io
from sbn.data import ImageDataset, load_dataset
from sbn.data.loader import DeviceData
from sbn.models import ModelConfig
from sbn.models.neurons import LIFParameters, lif_multistep, lif_multistep_reference
from sbn.train import Runtime, TrainSettings, train
from sbn.train_fused_lif import fused_lif_multistep

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda", 0)
CONFIG = ModelConfig(num_classes=10, width=0.0625, layers=(1, 1, 1, 1), time_steps=2)


@pytest.mark.parametrize(
    "precision, channels_last, lif",
    [("fp32", False, "eager"), ("bf16", True, "eager"), ("fp16", False, "fused")],
)
def test_a_gpu_run_writes_a_checkpoint_the_cpu_reads(tmp_path, precision, channels_last, lif):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    data = load_dataset("digits", train=True), load_dataset("digits")
    settings = TrainSettings(epochs=2, batch_size=32, train_samples=96, test_samples=64, precision=precision)
    out = tmp_path / "m.safetensors"
    result = train(
        CONFIG, settings, *data, out, runtime=Runtime(device=CUDA, channels_last=channels_last, lif=lif)
    )
    saved = ckpt_io.load(out)
    assert all(t.device.type == "cpu" for t in saved.model_state.values())
    assert result.summary["runtime"]["device"].startswith("cuda:0")
    assert ("grad_scaler" in saved.training) == (precision == "fp16")
    images = data[1].images[:16]
    with torch.no_grad():
        assert torch.equal(saved.build()(images), result.model(images))  # both on the CPU


def test_compiled_fused_lif_and_the_sequence_node_on_the_gpu_equal_the_reference():
    params = LIFParameters()
    x = torch.randn(4, 8, 16, 8, 8, device=CUDA) * 1.5 + 0.6
    grad = torch.randn_like(x)
    outs = []
    for fn in (
        lambda v: lif_multistep_reference(v, params),
        lambda v: lif_multistep(v, params),
        lambda v: fused_lif_multistep(v, params),
    ):
        leaf = x.clone().requires_grad_()
        spikes = fn(leaf)
        (spikes * grad).sum().backward()
        outs.append((spikes.detach(), leaf.grad))
    for spikes, grad_x in outs[1:]:
        assert torch.equal(spikes, outs[0][0])
        torch.testing.assert_close(grad_x, outs[0][1], rtol=1e-5, atol=1e-6)


def test_device_loader_on_the_gpu_gives_the_cpu_batches():
    data = ImageDataset(
        "u8", torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8), torch.arange(40) % 10, 10
    )
    runs = [
        list(
            DeviceData(data, d).batches(
                16, shuffle=True, augment=True, generator=torch.Generator().manual_seed(3)
            )
        )
        for d in ("cpu", CUDA)
    ]
    for a, b in zip(*runs):
        assert torch.equal(a.images, b.images.cpu()) and torch.equal(a.labels, b.labels.cpu())
