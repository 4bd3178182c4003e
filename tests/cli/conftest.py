"""Shared fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def export_small_sbn():
    """``export_small_sbn(root)``: a small SpikeBottleNet (digits-sized, split after RB2, T 2)
    whose norm statistics come from data so that the neurons fire, saved as
    root/m.safetensors and exported to root/export; returns root."""

    def make(root):
        import torch

        from sbn import checkpoint as ckpt_io
        from sbn.graph import export_checkpoint
        from sbn.models import BottleneckConfig, ModelConfig, build_model
        from sbn.models.norm import TdBatchNorm

        cfg = ModelConfig(
            width=0.0625,
            layers=(1, 1, 1, 1),
            image_size=32,
            num_classes=10,
            time_steps=2,
            bottleneck=BottleneckConfig(2, 4, 1),
        )
        torch.manual_seed(3)
        model = build_model(cfg)
        with torch.no_grad():
            for bn in (m for m in model.modules() if isinstance(m, TdBatchNorm)):
                bn.momentum = 1.0
            model.train()
            model(torch.rand(4, 3, 32, 32))
        ckpt_io.save(
            root / "m.safetensors", ckpt_io.Checkpoint(config=cfg, model_state=model.eval().state_dict())
        )
        export_checkpoint(root / "m.safetensors", root / "export")
        return root

    return make


# ---- fault injection: a pristine export to damage, fingerprints, the one-line contract ----
@pytest.fixture(scope="session")
def pristine(tmp_path_factory, export_small_sbn):
    """A folder with m.safetensors (a SpikeBottleNet), backbone.safetensors (another model)
    and export/ (m exported): copy it (``damaged_copy``) before changing anything."""
    import torch

    from sbn import checkpoint as ckpt_io
    from sbn.models import ModelConfig, build_model

    root = export_small_sbn(tmp_path_factory.mktemp("pristine"))
    config = ModelConfig(width=0.0625, layers=(1, 1, 1, 1), image_size=32, num_classes=10, time_steps=2)
    torch.manual_seed(4)
    ckpt_io.save(
        root / "backbone.safetensors",
        ckpt_io.Checkpoint(config=config, model_state=build_model(config).state_dict()),
    )
    return root


@pytest.fixture
def work(pristine, tmp_path):
    """A fresh copy of ``pristine`` for one test."""
    import shutil

    return Path(shutil.copytree(pristine, tmp_path / "work"))


def fingerprint(*roots) -> dict[str, str]:
    """sha256 of every file under ``roots`` (files or folders), by path: equal before and
    after a refused command means nothing was touched."""
    import hashlib

    found = {}
    for root in map(Path, roots):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            found[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return found


@pytest.fixture
def refused(run_sbn):
    """``refused(*args, touches=[paths], match=text)``: run ``sbn ARGS`` in-process and check
    the contract for bad input: exit code 1, exactly one line on stderr, ``error: ...``
    containing ``match``, and every file under ``touches`` unchanged."""

    def check(*args, touches=(), match: str = ""):
        before = fingerprint(*touches)
        code, out, err = run_sbn(*args)
        lines = err.strip().splitlines()
        assert code == 1, (code, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert match in lines[0], lines[0]
        assert fingerprint(*touches) == before
        return lines[0]

    return check


def mutate_nir(path, change) -> None:
    """Apply ``change(file, nodes)`` to the HDF5 groups of the NIR file at ``path``."""
    import h5py

    with h5py.File(path, "r+") as f:
        change(f, f["node"]["nodes"])


def set_dataset(group, key, value) -> None:
    """Replace (or add) the dataset ``key`` of an HDF5 group."""
    if key in group:
        del group[key]
    if isinstance(value, str):
        import h5py

        group.create_dataset(key, data=value, dtype=h5py.string_dtype())
    else:
        group.create_dataset(key, data=value)


@pytest.fixture
def kit():
    """The helpers above for test modules (conftest is not importable under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(fingerprint=fingerprint, mutate_nir=mutate_nir, set_dataset=set_dataset)
