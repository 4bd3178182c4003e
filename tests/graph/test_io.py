"""Round trips through NIR files, and one-line errors for files that cannot be used."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from sbn.errors import GraphError
from sbn.graph.export import export_nir
from sbn.graph.io import graph_differences, load_nir, save_nir
from sbn.graph.partition import partition

# ../shared, as tests/conftest.py found it
FIXTURES = Path(os.environ["SBN_SHARED"]) / "fixtures" / "nir-third-party"


@pytest.mark.parametrize("fixture", ["sbn_stride2", "sbn_last_stride2", "if_backbone"])
def test_every_exported_graph_round_trips(fixture, request, tmp_path):
    graph = export_nir(request.getfixturevalue(fixture))
    cut = graph.metadata.get("sbn.split", "RB3")
    for name, g in zip(["full", "device", "edge"], [graph, *partition(graph, cut)]):
        nir.write(tmp_path / f"{name}.nir", g)  # the plain nir.write / nir.read pair
        back = nir.read(tmp_path / f"{name}.nir")
        assert graph_differences(g, back) == [], name
        save_nir(tmp_path / f"{name}2.nir", g)  # and the toolchain's own pair
        assert graph_differences(g, load_nir(tmp_path / f"{name}2.nir")) == [], name


def test_differences_are_found(sbn_stride1):
    a, b = export_nir(sbn_stride1), export_nir(sbn_stride1)
    assert graph_differences(a, b) == []
    b.nodes["rb1.conv1"].weight[0, 0, 0, 0] += 1e-9
    b.edges = b.edges[:-1]
    b.metadata["sbn.dt"] = 2.0
    found = graph_differences(a, b)
    assert "rb1.conv1.weight differs" in found
    assert "edges differ" in found and "graph metadata differs" in found


#: every NIR file in the shared folder (its README lists where each came from)
THIRD_PARTY = [
    "braille_noDelay_bias_zero",
    "braille_noDelay_noBias_subtract",
    "cnn_sinabs",
    "lif_norse",
    "two_lif_neurons",
]


def test_the_third_party_files_are_the_ones_listed():
    """A missing folder or file fails here instead of leaving nothing to load below."""
    assert sorted(p.stem for p in FIXTURES.glob("*.nir")) == THIRD_PARTY


@pytest.mark.parametrize("name", THIRD_PARTY)
def test_third_party_files_load(name):
    assert isinstance(load_nir(FIXTURES / f"{name}.nir"), nir.NIRGraph)


def _small_file(path: Path) -> Path:
    graph = nir.NIRGraph.from_list(nir.Scale(scale=np.ones(2)))
    nir.write(path, graph)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(GraphError, match="no such NIR file"):
        load_nir(tmp_path / "nope.nir")


def test_corrupt_file(tmp_path):
    path = tmp_path / "bad.nir"
    path.write_bytes(b"\x89HDF\r\n garbage " * 20)
    with pytest.raises(GraphError, match=r"bad.nir: not a readable NIR \(HDF5\) file") as info:
        load_nir(path)
    assert "\n" not in str(info.value)
    truncated = tmp_path / "cut.nir"
    truncated.write_bytes(_small_file(tmp_path / "ok.nir").read_bytes()[:600])
    with pytest.raises(GraphError, match="cut.nir"):
        load_nir(truncated)


def test_unknown_version(tmp_path):
    path = _small_file(tmp_path / "new.nir")
    with h5py.File(path, "r+") as f:
        del f["version"]
        f.create_dataset("version", data="9.1.0", dtype=h5py.string_dtype())
    with pytest.raises(GraphError, match=r"written by NIR 9.1.0, newer than the installed"):
        load_nir(path)
    with h5py.File(path, "r+") as f:
        del f["version"]
    with pytest.raises(GraphError, match="states no NIR version"):
        load_nir(path)


def test_unsupported_node_type(tmp_path):
    path = _small_file(tmp_path / "odd.nir")
    with h5py.File(path, "r+") as f:
        del f["node/nodes/scale/type"]
        f["node/nodes/scale"].create_dataset("type", data="Reshape", dtype=h5py.string_dtype())
    with pytest.raises(
        GraphError,
        match=r"node 'scale' has type Reshape, which the toolchain "
        r"does not support \(supported: .*LIF",
    ):
        load_nir(path)


def test_malformed_parameters(tmp_path):
    path = _small_file(tmp_path / "odd.nir")
    with h5py.File(path, "r+") as f:
        del f["node/nodes/scale/scale"]
    with pytest.raises(GraphError, match="malformed NIR graph"):
        load_nir(path)


def test_graph_failing_nir_type_inference_still_loads_and_fails_when_run(tmp_path):
    """Older writers leave types NIR's inference rejects; load_nir reads them without it,
    and the executor names the node whose shapes do not fit."""
    from sbn.graph import execute

    nodes = {
        "input": nir.Input(input_type=np.array([3])),
        "scale": nir.Scale(scale=np.ones(2)),
        "output": nir.Output(output_type=np.array([2])),
    }
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "scale"), ("scale", "output")], type_check=False)
    nir.write(tmp_path / "old.nir", graph)
    with pytest.raises(ValueError):
        nir.read(tmp_path / "old.nir")
    loaded = load_nir(tmp_path / "old.nir")
    with pytest.raises(
        GraphError,
        match=r"node 'scale' \(Scale\) cannot take an input of "
        r"shape \(3,\) per sample",
    ):
        execute(loaded, np.ones((1, 1, 3)))
