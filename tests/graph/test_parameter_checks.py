"""``load_nir`` refuses NIR parameters no consumer can compute with: non-finite numbers in
any numeric array, and time constants that are not positive. One GraphError naming the node
and the parameter, no numpy warning on the way; r, v_leak, v_reset and weights may be any
finite value."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from sbn.errors import GraphError
from sbn.graph.checks import check_parameters
from sbn.graph.io import load_nir

# ../shared, as tests/conftest.py found it
FIXTURES = Path(os.environ["SBN_SHARED"]) / "fixtures" / "nir-third-party"
PORTABLE = Path(__file__).parents[1] / "fixtures" / "interop" / "portable"


def _mutated(tmp_path: Path, node: str, key: str, value) -> Path:
    """two_lif_neurons.nir with ``node``'s dataset ``key`` replaced by ``value``."""
    path = tmp_path / f"{node}_{key}.nir"
    shutil.copy(FIXTURES / "two_lif_neurons.nir", path)
    with h5py.File(path, "r+") as f:
        group = f["node"]["nodes"][node]
        if key in group:
            del group[key]
        group.create_dataset(key, data=np.asarray(value))
    return path


def _refused(path: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning on the way fails the test
        with pytest.raises(GraphError) as info:
            load_nir(path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "node, key, value, words",
    [
        ("lif1", "tau", [0.0], ("lif1", "tau = 0", "positive")),
        ("lif1", "tau", [-0.01], ("lif1", "tau = -0.01", "positive")),
        ("lif2", "tau", [np.nan], ("lif2", "tau", "NaN", "finite")),
        ("lif1", "tau", [np.inf], ("lif1", "tau", "infinite", "finite")),
        ("lif1", "v_threshold", [np.inf], ("lif1", "v_threshold", "infinite", "finite")),
        ("lif1", "v_leak", [np.nan], ("lif1", "v_leak", "NaN")),
        ("lif1", "r", [-np.inf], ("lif1", "r", "infinite")),
        ("linear1", "weight", [[np.nan]], ("linear1", "weight", "NaN", "finite")),
    ],
)
def test_bad_parameters_are_refused_by_name(tmp_path, node, key, value, words):
    message = _refused(_mutated(tmp_path, node, key, value))
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("key, value", [("r", [-2.5]), ("v_leak", [-3.0]), ("v_threshold", [-1.0])])
def test_any_finite_value_where_nir_allows_it(tmp_path, key, value):
    """r, v_leak and thresholds are not constrained in sign: only tau must be positive."""
    graph = load_nir(_mutated(tmp_path, "lif1", key, value))
    assert np.array_equal(getattr(graph.nodes["lif1"], key), value)


def _tau_node(kind: str, **taus):
    ones = np.ones(3)
    if kind == "LI":
        return nir.LI(tau=taus.get("tau", ones), r=ones, v_leak=np.zeros(3))
    if kind == "CubaLIF":
        return nir.CubaLIF(
            tau_syn=taus.get("tau_syn", ones),
            tau_mem=taus.get("tau_mem", ones),
            r=ones,
            v_leak=np.zeros(3),
            v_threshold=ones,
        )
    return nir.CubaLI(
        tau_syn=taus.get("tau_syn", ones), tau_mem=taus.get("tau_mem", ones), r=ones, v_leak=np.zeros(3)
    )


@pytest.mark.parametrize(
    "kind, field", [("LI", "tau"), ("CubaLIF", "tau_syn"), ("CubaLIF", "tau_mem"), ("CubaLI", "tau_syn")]
)
def test_every_time_constant_must_be_positive(kind, field):
    bad = np.array([1.0, 0.0, 2.0])
    graph = nir.NIRGraph(nodes={"n": _tau_node(kind, **{field: bad})}, edges=[])
    with pytest.raises(GraphError, match=rf"node n: {field} = 0 \(1 of 3"):
        check_parameters(graph)


def test_non_finite_defaults_and_nested_graphs_are_checked():
    """A scalar parameter (CubaLIF's w_in) counts too, and so does a node in a subgraph."""
    inner = nir.NIRGraph(nodes={"c": _tau_node("CubaLIF")}, edges=[], type_check=False)
    inner.nodes["c"].w_in = float("nan")
    with pytest.raises(GraphError, match=r"node sub\.c: w_in holds 1 NaN"):
        check_parameters(nir.NIRGraph(nodes={"sub": inner}, edges=[], type_check=False))


def test_integer_and_string_parameters_pass():
    """Integer windows and a "same" padding are no numbers to refuse."""
    conv = nir.Conv2d(
        input_shape=(4, 4),
        weight=np.ones((1, 1, 3, 3)),
        stride=1,
        padding="same",
        dilation=1,
        groups=1,
        bias=np.zeros(1),
    )
    check_parameters(nir.NIRGraph(nodes={"c": conv}, edges=[]))


#: named, not globbed: a missing folder must fail, not leave nothing to check
KNOWN_GOOD = [
    *(
        FIXTURES / f"{name}.nir"
        for name in (
            "braille_noDelay_bias_zero",
            "braille_noDelay_noBias_subtract",
            "cnn_sinabs",
            "lif_norse",
            "two_lif_neurons",
        )
    ),
    *(PORTABLE / f"{name}.nir" for name in ("device", "edge", "full")),
]


def test_every_known_good_file_is_listed():
    assert sorted(FIXTURES.glob("*.nir")) + sorted(PORTABLE.glob("*.nir")) == KNOWN_GOOD


@pytest.mark.parametrize("path", KNOWN_GOOD, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_known_good_files_still_load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(load_nir(path), nir.NIRGraph)


def test_sim_on_tau_zero_is_one_line(tmp_path):
    """The audit's case: `sbn sim tau0.nir --input in.npy --backend executor` ran with numpy
    divide-by-zero warnings and gave all-zero outputs with rc 0."""
    path = _mutated(tmp_path, "lif1", "tau", [0.0])
    np.save(tmp_path / "in.npy", np.ones((10, 1)))
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sbn.cli import main; main()",
            "sim",
            str(path),
            "--input",
            str(tmp_path / "in.npy"),
            "--backend",
            "executor",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "lif1" in lines[0] and "tau = 0" in lines[0]
