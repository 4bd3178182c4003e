"""`sbn sim` refuses, before anything runs, an edge graph that cannot read what the device
graph sends, and a --dt that is not a finite positive number: one line, exit code 1."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sbn.errors import ConfigError
from sbn.graph import execute
from sbn.graph.io import load_nir

THIRD_PARTY = Path(os.environ["SBN_SHARED"]) / "fixtures" / "nir-third-party"


def _no_simulation(monkeypatch):
    """Fail the test if any Lava work starts (the float path fans out, --target runs here)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a simulation started before the shapes were checked")

    import sbn.cli.sim_fixed
    import sbn.simulation

    monkeypatch.setattr(sbn.simulation, "fan_out", refuse)
    monkeypatch.setattr(sbn.cli.sim_fixed, "run_fixed", refuse)


def _one_error_line(code: int, err: str) -> str:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("extra", [(), ("--target", "loihi2")], ids=["float", "target"])
def test_edge_that_does_not_read_the_payload(pristine, run_sbn, monkeypatch, extra):
    _no_simulation(monkeypatch)
    device = pristine / "export" / "device.nir"
    code, out, err = run_sbn("sim", device, "--edge", device, "--samples", "2", *extra)
    line = _one_error_line(code, err)
    assert "[4, 16, 16]" in line and "[3, 32, 32]" in line, line  # what is sent, what is read
    assert "note:" not in err and out == ""


def test_edge_graph_of_the_wrong_part(pristine, run_sbn, monkeypatch):
    """The edge graph given as the device: it sends 10 class scores, the edge reads the payload."""
    _no_simulation(monkeypatch)
    edge = pristine / "export" / "edge.nir"
    code, _, err = run_sbn("sim", edge, "--edge", edge, "--samples", "1")
    line = _one_error_line(code, err)
    assert "[10]" in line and "[4, 16, 16]" in line, line


def test_matching_graphs_pass_the_check(pristine):
    from sbn.simulation import check_split_shapes

    check_split_shapes(pristine / "export" / "device.nir", pristine / "export" / "edge.nir")


def test_simulate_dataset_checks_before_it_fans_out(pristine, monkeypatch):
    """The library entry point refuses the same mismatch before any chunk runs."""
    from sbn.simulation import SimSource, simulate_dataset

    _no_simulation(monkeypatch)
    device = str(pristine / "export" / "device.nir")
    with pytest.raises(ConfigError, match=r"reads \[3, 32, 32\].*sends \[4, 16, 16\]"):
        simulate_dataset(
            SimSource(device, device), np.zeros((1, 3, 32, 32)), np.zeros(1, dtype=int), time_steps=2
        )


def _sim_on_streams(run_sbn, tmp_path, graph, streams, *args):
    """``sbn sim GRAPH --input in.npy --backend executor ARGS`` in-process, ``streams``
    saved as tmp_path/in.npy; returns (exit code, stdout, stderr)."""
    np.save(tmp_path / "in.npy", streams)
    return run_sbn("sim", graph, "--input", tmp_path / "in.npy", "--backend", "executor", *args)


@pytest.mark.parametrize("dt", ["inf", "-inf", "nan", "0", "-1e-4"])
def test_dt_must_be_finite_and_positive(tmp_path, run_sbn, dt):
    code, _, err = _sim_on_streams(
        run_sbn, tmp_path, THIRD_PARTY / "two_lif_neurons.nir", np.ones((10, 1)), f"--dt={dt}"
    )
    line = _one_error_line(code, err)
    assert "--dt" in line, line
    assert "RuntimeWarning" not in err


def test_finite_dt_still_runs(tmp_path, run_sbn):
    """norse's LIF (the NIR paper's) on the input spikes of its run, at --dt 2e-4: the saved
    Output is the reference executor's at that dt, 14 spikes (4 at the default 1e-4, so a
    --dt that never reached the run would show)."""
    graph = THIRD_PARTY / "lif_norse.nir"
    x = np.loadtxt(THIRD_PARTY / "lif_norse.csv", delimiter=",")[:, :1]  # [T, 1]: one sample
    code, _, err = _sim_on_streams(run_sbn, tmp_path, graph, x, "--dt", "2e-4", "--out", tmp_path / "o.npz")
    assert code == 0, err
    ref = execute(load_nir(graph), x[:, None], dt=2e-4).outputs["output"]
    with np.load(tmp_path / "o.npz") as saved:
        np.testing.assert_array_equal(saved["output"], ref)
    assert ref.sum() == 14
    assert execute(load_nir(graph), x[:, None], dt=1e-4).outputs["output"].sum() == 4
