"""Property tests of the readers of files a user hands the toolchain: a NIR graph (through
``sbn map``'s reader), an export's manifest and a target description. Random files and
valid files with one field changed at random are either read or refused with an
``SbnError`` (the CLI's one line): never another exception, never a hang.

Small examples and a deadline keep this within seconds on a 2-core machine.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbn.errors import SbnError

FEW = settings(
    max_examples=40,
    deadline=5000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: JSON values of every kind, nested a little
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

#: arrays a damaged HDF5 field may hold: any small shape, ints, floats (nan and inf too), text
ARRAYS = st.one_of(
    st.integers(-10, 10**6).map(np.int64),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    st.lists(st.integers(-3, 300), min_size=0, max_size=5).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5).map(np.array),
    st.text(max_size=10),
)


def _refused_or_read(read, *args):
    try:
        read(*args)
    except SbnError as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)


def _file_refused_or_read(read, name: str, content: bytes) -> None:
    """``read`` a file called ``name`` holding ``content``, in a folder of its own."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        _refused_or_read(read, path)


@pytest.fixture(scope="module")
def small_nir(tmp_path_factory) -> Path:
    """Input -> Conv2d -> LIF -> Flatten -> Affine -> LIF -> Output, written by save_nir."""
    from sbn.graph.io import save_nir

    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 6, 6])}),
        "conv": nir.Conv2d(
            input_shape=(6, 6),
            weight=rng.normal(size=(3, 2, 3, 3)),
            stride=1,
            padding=1,
            dilation=1,
            groups=1,
            bias=np.zeros(3),
        ),
        "lif1": nir.LIF(
            tau=np.full((3, 6, 6), 2.0),
            r=np.ones((3, 6, 6)),
            v_leak=np.zeros((3, 6, 6)),
            v_threshold=np.ones((3, 6, 6)),
        ),
        "flat": nir.Flatten(input_type={"input": np.array([3, 6, 6])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=rng.normal(size=(4, 108)), bias=np.zeros(4)),
        "lif2": nir.LIF(tau=np.full(4, 2.0), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4)),
        "output": nir.Output(output_type={"output": np.array([4])}),
    }
    edges = [
        ("input", "conv"),
        ("conv", "lif1"),
        ("lif1", "flat"),
        ("flat", "fc"),
        ("fc", "lif2"),
        ("lif2", "output"),
    ]
    path = tmp_path_factory.mktemp("nir") / "small.nir"
    save_nir(path, nir.NIRGraph(nodes=nodes, edges=edges))
    return path


def _fields(path: Path) -> list[tuple[str, str]]:
    """(node, field) of every dataset of every node of the file."""
    with h5py.File(path, "r") as f:
        nodes = f["node"]["nodes"]
        return [
            (n, k) for n in sorted(nodes) for k in sorted(nodes[n]) if isinstance(nodes[n][k], h5py.Dataset)
        ]


def test_the_unchanged_small_graph_reads(small_nir):
    from sbn.targets import read_network

    assert {g.name for g in read_network(small_nir).groups} == {"lif1", "lif2"}


@FEW
@given(data=st.binary(max_size=2048))
def test_random_bytes_are_no_nir_file(data):
    from sbn.targets import read_network

    _file_refused_or_read(read_network, "g.nir", data)


@FEW
@given(pick=st.integers(0, 10**6), value=ARRAYS | st.just(None))
def test_a_nir_file_with_one_field_changed(small_nir, pick, value):
    """One dataset of one node replaced by a random value (or deleted): read_network (what
    sbn map and the Lava backend read through) refuses with a GraphError or reads it."""
    from sbn.targets import read_network

    fields = _fields(small_nir)
    node, key = fields[pick % len(fields)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "g.nir"
        shutil.copyfile(small_nir, path)
        with h5py.File(path, "r+") as f:
            group = f["node"]["nodes"][node]
            del group[key]
            if value is not None:
                group.create_dataset(
                    key, data=value, dtype=h5py.string_dtype() if isinstance(value, str) else None
                )
        _refused_or_read(read_network, path)


@pytest.fixture(scope="module")
def export(tmp_path_factory, export_small_sbn) -> Path:
    return export_small_sbn(tmp_path_factory.mktemp("export")) / "export"


@FEW
@given(
    key=st.sampled_from(
        [
            "schema",
            "files",
            "split",
            "time_steps",
            "num_classes",
            "input_shape",
            "payload_shape",
            "bits_per_sample",
            "checkpoint",
        ]
    ),
    value=JSON,
)
def test_a_manifest_with_one_field_changed(export, key, value):
    from sbn.graph.manifest_read import read_manifest

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(shutil.copytree(export, Path(folder) / "e"))
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest[key] = value
        (copy / "manifest.json").write_text(json.dumps(manifest))
        _refused_or_read(read_manifest, copy)


@FEW
@given(value=JSON)
def test_a_manifest_of_any_json(export, value):
    from sbn.graph.manifest_read import read_manifest

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "e"
        copy.mkdir()
        (copy / "manifest.json").write_text(json.dumps(value))
        _refused_or_read(read_manifest, copy)


@FEW
@given(
    key=st.sampled_from(
        [
            "format",
            "name",
            "chips",
            "cores_per_chip",
            "neurons_per_core",
            "synaptic_memory_bits_per_core",
            "weight_bits",
            "shared_conv_weights",
            "energy_per_synaptic_op_j",
            "max_fan_in",
            "fixed_point",
            "unknown",
        ]
    ),
    value=JSON,
)
def test_a_target_file_with_one_field_changed(key, value):
    from sbn.targets import get_target, load_target_file

    data = get_target("loihi2").to_dict()
    data[key] = value
    _file_refused_or_read(load_target_file, "t.json", json.dumps(data).encode())


@FEW
@given(text=st.text(max_size=300))
def test_a_toml_target_of_any_text(text):
    from sbn.targets import load_target_file

    _file_refused_or_read(load_target_file, "t.toml", text.encode())
