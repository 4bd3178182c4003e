"""`sbn energy GRAPH.nir` from the command line (the arithmetic: tests/energy/test_graph_energy.py)."""

from __future__ import annotations

import json

import nir
from nir_graphs import small_graph

from sbn.graph.rates import write_rates


def test_cli_graph_mode(run_sbn, tmp_path):
    nir.write(tmp_path / "g.nir", small_graph())
    write_rates(tmp_path / "r.json", {"input": 0.5, "lif1": 0.25}, time_steps=4, source="test")
    code, out, err = run_sbn("energy", tmp_path / "g.nir", "--rates", tmp_path / "r.json", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["time_steps"] == 4 and report["totals"]["syops"] == 608
    code, out, err = run_sbn("energy", tmp_path / "g.nir", "--firing-rate", "0.5")
    assert code == 0, err
    assert "conv" in out and "total" in out and "not in the spiking totals" not in out
    code, _, err = run_sbn("energy", tmp_path / "g.nir", "--checkpoint", tmp_path / "g.nir")
    assert code == 1 and err.startswith("error: --checkpoint: for the ResNet50's split points")
    code, _, err = run_sbn("energy", tmp_path / "g.nir", "--rates", tmp_path / "r.json", "--T", "2")
    assert code == 1 and "--T 2 contradicts" in err
