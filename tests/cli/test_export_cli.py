"""``sbn export`` through the real entry points (``sbn.cli.main`` and the installed scripts)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sbn.cli
from sbn.checkpoint import Checkpoint, file_sha256, save
from sbn.graph import execute
from sbn.graph.io import load_nir
from sbn.models import BottleneckConfig, ModelConfig, build_model

BIN = Path(sys.executable).parent
SMALL = dict(width=0.0625, layers=(1, 1, 1, 1), image_size=8, num_classes=5, time_steps=2)


def make_checkpoint(path: Path, **overrides) -> Path:
    torch.manual_seed(0)
    config = ModelConfig(**{**SMALL, **overrides})
    model = build_model(config)
    with torch.no_grad():  # statistics that are not the defaults, so folding matters
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                buf.uniform_(-0.3, 0.3)
    save(path, Checkpoint(config, model.state_dict()))
    return path


@pytest.fixture(scope="module")
def sbn_checkpoint(tmp_path_factory, calibrate):
    """Calibrated (tests/conftest.py), so that the encoder fires: with make_checkpoint's
    statistics the payload is all zeros and every sample gets the same logits."""
    path = tmp_path_factory.mktemp("ckpt") / "sbn.safetensors"
    config = ModelConfig(**SMALL, bottleneck=BottleneckConfig(split=2, channels=4, stride=2))
    save(path, Checkpoint(config, calibrate(config, seed=0).state_dict()))
    return path


def test_spikebottlenet_export_writes_the_four_files(run_sbn, tmp_path, sbn_checkpoint):
    out = tmp_path / "export"
    code, stdout, err = run_sbn("export", sbn_checkpoint, "--out", out, "--format", "json")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["device.nir", "edge.nir", "full.nir", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == json.loads(stdout)
    assert manifest["schema"] == "sbn.manifest/1"
    assert manifest["split"] == "RB2" and manifest["cut_node"] == "encoder.lif"
    # RB2 of this model: 32 x 4 x 4; C' = 4, stride 2 -> 4 x 2 x 2; T = 2
    assert manifest["payload_shape"] == [2, 4, 2, 2]
    assert manifest["raw_shape"] == [2, 32, 4, 4]
    assert manifest["bits_per_sample"] == 32 and manifest["raw_bits"] == 1024
    assert manifest["compression_ratio"] == 32.0
    assert manifest["input_shape"] == [3, 8, 8]
    assert (manifest["time_steps"], manifest["num_classes"]) == (2, 5)
    assert manifest["checkpoint"]["sha256"] == file_sha256(sbn_checkpoint)
    assert manifest["tool_version"] == sbn.__version__ and manifest["dt"] == 1.0
    # the files are usable: edge after device is the full graph
    full, device, edge = (load_nir(out / f"{n}.nir") for n in ("full", "device", "edge"))
    x = np.broadcast_to(np.random.default_rng(0).random((2, 3, 8, 8)), (2, 2, 3, 8, 8))
    sent = execute(device, x).outputs["output"]
    assert sent.shape == (2, 2, 4, 2, 2)
    assert set(np.unique(sent)) == {0.0, 1.0} and 0.1 < sent.mean() < 0.6  # measured 0.31
    logits = execute(full, x).outputs["output"]
    np.testing.assert_array_equal(execute(edge, sent).outputs["output"], logits)
    assert np.abs(logits[:, 0] - logits[:, 1]).max() > 0.1  # the two samples differ (measured 2.6)
    # the edge part reads what it is sent: a silent payload gives other logits
    assert np.abs(execute(edge, np.zeros_like(sent)).outputs["output"] - logits).max() > 0.1


def test_backbone_export_and_split(run_sbn, tmp_path):
    ckpt = make_checkpoint(tmp_path / "backbone.safetensors")
    code, stdout, err = run_sbn("export", ckpt, "--out", tmp_path / "a")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["full.nir", "manifest.json"]
    assert "spiking_resnet50" in stdout
    code, stdout, err = run_sbn("export", ckpt, "--out", tmp_path / "b", "--split", "rb3")
    assert code == 0, err
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["cut_node"] == "rb3.lif3" and manifest["compression_ratio"] == 1.0
    assert (tmp_path / "b" / "edge.nir").is_file()
    assert "RB3" in stdout and "compression ratio" in stdout


def test_export_replaces_an_earlier_export(run_sbn, tmp_path, sbn_checkpoint):
    out = tmp_path / "export"
    for _ in range(2):
        code, _, err = run_sbn("export", sbn_checkpoint, "--out", out)
        assert code == 0, err
    assert len(list(out.iterdir())) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no temp folders left


def _assert_failed_cleanly(code, err, tmp_path, out, pattern):
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert pattern in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing half-written


def test_bad_checkpoint(run_sbn, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    out = tmp_path / "out"
    code, _, err = run_sbn("export", bad, "--out", out)
    _assert_failed_cleanly(code, err, tmp_path, out, "not a readable safetensors checkpoint")


def test_ann_checkpoint_is_refused(run_sbn, tmp_path):
    ckpt = make_checkpoint(
        tmp_path / "ann.safetensors", kind="ann", bottleneck=BottleneckConfig(split=2, channels=4)
    )
    out = tmp_path / "out"
    code, _, err = run_sbn("export", ckpt, "--out", out)
    _assert_failed_cleanly(code, err, tmp_path, out, "NIR export is for spiking networks")


@pytest.mark.parametrize(
    "split,message",
    [
        ("RB9", "unknown split 'RB9': valid splits are RB1..RB4"),
        ("layer3", "unknown split 'layer3'"),
        ("RB1", "this SpikeBottleNet checkpoint is split at RB2"),
    ],
)
def test_bad_split(run_sbn, tmp_path, sbn_checkpoint, split, message):
    out = tmp_path / "out"
    code, _, err = run_sbn("export", sbn_checkpoint, "--out", out, "--split", split)
    _assert_failed_cleanly(code, err, tmp_path, out, message)


def test_out_folder_that_is_not_an_export_is_left_alone(run_sbn, tmp_path, sbn_checkpoint):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, err = run_sbn("export", sbn_checkpoint, "--out", out)
    assert code == 1 and "is not an sbn export folder" in err
    assert (out / "notes.txt").read_text() == "keep me"


def test_installed_scripts(tmp_path, sbn_checkpoint):
    out = tmp_path / "x"
    result = subprocess.run(
        [str(BIN / "sbn"), "export", str(sbn_checkpoint), "--out", str(out), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["split"] == "RB2"
    bad = subprocess.run(
        [str(BIN / "sbn-export"), str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "y")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: ") and "no such checkpoint" in bad.stderr


def test_export_folder_gets_ordinary_permissions(run_sbn, tmp_path, sbn_checkpoint):
    import os

    umask = os.umask(0o022)
    try:
        code, _, err = run_sbn("export", sbn_checkpoint, "--out", tmp_path / "e")
    finally:
        os.umask(umask)
    assert code == 0, err
    assert (tmp_path / "e").stat().st_mode & 0o777 == 0o755
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "e").iterdir()} == {0o644}
