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
