"""Checkpoints do not depend on where or how the model trained."""

import torch

from sbn import checkpoint as ckpt_io
from sbn.data import load_dataset
from sbn.models import ModelConfig, build_model
from sbn.train import Runtime, TrainSettings, train

CONFIG = ModelConfig(num_classes=10, width=0.0625, layers=(1, 1, 1, 1), time_steps=2)


def _digits():
    return load_dataset("digits", train=True), load_dataset("digits")


def test_channels_last_bf16_run_writes_a_plain_cpu_checkpoint(tmp_path):
    train_data, test_data = _digits()
    settings = TrainSettings(epochs=1, batch_size=32, train_samples=64, test_samples=32, precision="bf16")
    out = tmp_path / "m.safetensors"
    result = train(CONFIG, settings, train_data, test_data, out, runtime=Runtime(channels_last=True))
    saved = ckpt_io.load(out)
    for name, tensor in {**saved.model_state, **saved.optim_state}.items():
        assert tensor.device.type == "cpu" and tensor.is_contiguous(), name
    assert all(t.dtype != torch.bfloat16 for t in saved.model_state.values())  # fp32 master weights
    assert saved.training["settings"]["precision"] == "bf16"
    # the returned model is back in the default layout, and equals the file
    conv = result.model.stem[0].weight
    assert conv.is_contiguous()
    images = test_data.images[:4]
    with torch.no_grad():
        assert torch.equal(saved.build()(images), result.model(images))


def test_a_checkpoint_materialises_a_model_built_on_meta(tmp_path):
    """Load as a GPU machine's tooling may: the model built without memory (``meta``), the
    tensors assigned from the file, which are CPU tensors whatever device wrote them."""
    torch.manual_seed(0)
    source = build_model(CONFIG).eval()
    path = tmp_path / "m.safetensors"
    ckpt_io.save(path, ckpt_io.Checkpoint(CONFIG, source.state_dict()))
    with torch.device("meta"):
        empty = build_model(CONFIG)
    assert next(empty.parameters()).is_meta
    empty.load_state_dict(ckpt_io.load(path).model_state, assign=True)
    empty.eval()
    assert not any(t.is_meta for t in empty.state_dict().values())
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(empty(images), source(images))
