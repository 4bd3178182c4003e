"""Fixtures for every test folder, and where the project's shared material (../shared:
docs, third-party NIR fixtures) is.

CI clones the repository with ../shared beside the clone. A clone made elsewhere (e.g. into a
temporary folder) finds it beside the repository it was cloned from. ``SBN_SHARED`` overrides
both. Test modules read the result from ``os.environ["SBN_SHARED"]``: this file is loaded
before any of them.
"""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    candidates = [REPO.parent / "shared"]
    try:  # the device machine's copy of the tree has no git (examples/benchmarks/gpu_check.sh)
        origin = subprocess.run(
            ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        origin = ""
    if origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / "shared")
    return next((c for c in candidates if c.is_dir()), candidates[0])


os.environ.setdefault("SBN_SHARED", str(_shared_dir()))


def calibrated(config, seed: int = 0):
    """A model whose neurons fire. Fresh models have running statistics (mean 0, var 1) that
    do not match their activations, so most layers would stay silent: every tdBN's
    statistics are set from one batch of random images, its affine parameters and the
    statistics are perturbed (so that folding meets non-trivial numbers), eval mode."""
    import torch

    from sbn.models import build_model
    from sbn.models.norm import TdBatchNorm

    torch.manual_seed(seed)
    model = build_model(config)
    norms = [m for m in model.modules() if isinstance(m, TdBatchNorm)]
    with torch.no_grad():
        for bn in norms:
            bn.momentum = 1.0  # the running statistics become this batch's
            bn.weight.uniform_(0.8, 1.6)
            bn.bias.uniform_(-0.1, 0.4)
        model.train()
        model(torch.rand(8, config.in_channels, config.image_size, config.image_size))
        for bn in norms:
            bn.running_mean.add_(torch.empty_like(bn.running_mean).uniform_(-0.05, 0.05))
            bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.9, 1.1))
            bn.momentum = 0.1
    return model.eval()


@pytest.fixture(scope="session")
def calibrate():
    """``calibrated(config, seed)`` for test modules and fixtures (importlib mode: they
    cannot import a conftest)."""
    return calibrated


@pytest.fixture
def run_sbn(monkeypatch, capsys):
    """``run_sbn(*args)`` runs ``sbn ARGS`` in-process; returns (exit code, stdout, stderr)."""

    import sys

    import sbn.cli

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
