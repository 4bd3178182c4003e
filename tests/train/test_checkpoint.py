"""Checkpoint files: safetensors + JSON metadata, strict loading, clear refusals."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sbn import checkpoint as ckpt_io
from sbn.errors import CheckpointError
from sbn.models import BottleneckConfig, ModelConfig, build_model

CONFIG = ModelConfig(
    num_classes=10, width=0.0625, layers=(1, 1, 1, 1), time_steps=2, bottleneck=BottleneckConfig(2, 4, 2)
)


def test_round_trip_keeps_everything(tmp_path):
    model = build_model(CONFIG)
    path = tmp_path / "m.safetensors"
    ckpt_io.save(
        path,
        ckpt_io.Checkpoint(
            CONFIG, model.state_dict(), training={"epoch": 3}, rng_state=torch.get_rng_state()
        ),
    )
    loaded = ckpt_io.load(path)
    assert loaded.config == CONFIG
    assert loaded.training == {"epoch": 3}
    assert torch.equal(loaded.rng_state, torch.get_rng_state())
    rebuilt = loaded.build()
    for key, value in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value)
    assert not rebuilt.training
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_other_architecture_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    ckpt_io.save(path, ckpt_io.Checkpoint(CONFIG, build_model(CONFIG).state_dict()))
    other = build_model(ModelConfig(num_classes=10, width=0.125, layers=(1, 1, 1, 1)))
    with pytest.raises(CheckpointError, match=r"do not fit a spiking_resnet50 model: .*unexpected"):
        ckpt_io.load_state(other, ckpt_io.load(path).model_state, "spiking_resnet50")


def _raw(path, metadata, tensors=None):
    save_file(tensors or {"model.x": torch.zeros(1)}, str(path), metadata=metadata)


def test_other_format_version_is_refused(tmp_path):
    path = tmp_path / "v9.safetensors"
    _raw(path, {"format": "sbn-checkpoint", "format_version": "9", "config": json.dumps(CONFIG.to_dict())})
    with pytest.raises(
        CheckpointError,
        match=r"key 'schema' is \('sbn-checkpoint', '9'\); .* reads "
        r"checkpoints with schema 'sbn.checkpoint/1'",
    ):
        ckpt_io.load(path)
    _raw(path, {"schema": "sbn.checkpoint/2", "config": json.dumps(CONFIG.to_dict())})
    with pytest.raises(CheckpointError, match="key 'schema' is 'sbn.checkpoint/2'"):
        ckpt_io.load(path)


def test_checkpoints_of_the_earlier_version_key_still_load(tmp_path):
    """Files written before one version key: ("format", "format_version") = ("sbn-checkpoint", "1")."""
    path = tmp_path / "old.safetensors"
    _raw(path, {"format": "sbn-checkpoint", "format_version": "1", "config": json.dumps(CONFIG.to_dict())})
    assert ckpt_io.load(path).config == CONFIG


def test_foreign_safetensors_is_refused(tmp_path):
    path = tmp_path / "hf.safetensors"
    _raw(path, {"format": "pt"})
    with pytest.raises(CheckpointError, match=r"key 'schema' is \('pt', None\)"):
        ckpt_io.load(path)


def test_garbage_and_missing_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 7 + b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
        ckpt_io.load(bad)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        ckpt_io.load(tmp_path / "missing.safetensors")
    for not_a_file in (tmp_path, Path("/dev/null")):  # /dev/null used to be "no such" file
        with pytest.raises(CheckpointError, match="not a checkpoint file \\(a folder or a device\\)"):
            ckpt_io.load(not_a_file)


def test_corrupt_config_metadata(tmp_path):
    path = tmp_path / "c.safetensors"
    _raw(path, {"format": "sbn-checkpoint", "format_version": "1", "config": "{\"kind\": "})
    with pytest.raises(CheckpointError, match="corrupt checkpoint metadata"):
        ckpt_io.load(path)


def test_written_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from sbn.fileio import write_json

    mask = os.umask(0o022)
    try:
        write_json(tmp_path / "x.json", {"a": 1})
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644


def test_other_safetensors_are_named_for_what_they_are(tmp_path):
    """A quantisation file (the other .safetensors of an export folder) or anybody's
    safetensors: said so, not by a missing key of a checkpoint schema ("(None, None)")."""
    quantised = tmp_path / "device.loihi2.safetensors"
    _raw(quantised, {"sbn": json.dumps({"schema": "sbn.quantized/1", "target": "loihi2"})})
    with pytest.raises(
        CheckpointError, match=r"a quantisation file written by `sbn quantize`, not a training"
    ):
        ckpt_io.load(quantised)
    foreign = tmp_path / "model.safetensors"
    _raw(foreign, {"producer": "someone else"})
    with pytest.raises(
        CheckpointError, match=r"safetensors without sbn's metadata, not a training checkpoint"
    ):
        ckpt_io.load(foreign)
