"""Shared fixtures of the CLI tests."""

from __future__ import annotations

import sys

import pytest

import sbn.cli


@pytest.fixture
def run_sbn(monkeypatch, capsys):
    """``run_sbn(*args)`` runs ``sbn ARGS`` in-process; returns (exit code, stdout, stderr)."""

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["sbn", *map(str, args)])
        code = 0
        try:
            sbn.cli.main()
        except SystemExit as exc:
            code = exc.code or 0
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


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

        cfg = ModelConfig(width=0.0625, layers=(1, 1, 1, 1), image_size=32, num_classes=10,
                          time_steps=2, bottleneck=BottleneckConfig(2, 4, 1))
        torch.manual_seed(3)
        model = build_model(cfg)
        with torch.no_grad():
            for bn in (m for m in model.modules() if isinstance(m, TdBatchNorm)):
                bn.momentum = 1.0
            model.train()
            model(torch.rand(4, 3, 32, 32))
        ckpt_io.save(root / "m.safetensors",
                     ckpt_io.Checkpoint(config=cfg, model_state=model.eval().state_dict()))
        export_checkpoint(root / "m.safetensors", root / "export")
        return root

    return make
