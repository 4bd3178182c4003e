"""`sbn sim GRAPH.nir --input X`: any NIR graph on given streams, in Lava or the executor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nir
import numpy as np
import pytest
from nir_graphs import biased_recurrent_affine, lif

from sbn.errors import DataError
from sbn.graph import execute
from sbn.graph.io import load_nir
from sbn.streams import read_streams

FIXTURES = Path(os.environ["SBN_SHARED"]) / "fixtures" / "nir-third-party"


def _braille_in_lava(run_sbn, tmp_path):
    """Random input spikes, the braille file, and `sbn sim` of one on the other (JSON report,
    streams to y.npz)."""
    x = (np.random.default_rng(0).random((30, 2, 12)) < 0.2).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    graph = FIXTURES / "braille_noDelay_bias_zero.nir"
    args = ("--input", tmp_path / "x.npy", "--out", tmp_path / "y.npz", "--format", "json")
    return x, graph, run_sbn("sim", graph, *args)


def test_braille_file_in_lava_equals_the_executor_and_saves_the_streams(run_sbn, tmp_path):
    x, graph, (code, out, err) = _braille_in_lava(run_sbn, tmp_path)
    assert code == 0, err
    report = json.loads(out)
    assert report["schema"] == "sbn.sim-graph/1" and report["backend"] == "lava"
    assert report["executor_outputs_identical"] is True
    assert report["dt"] == 1e-4 and report["dt_source"] == "default"
    assert "states no dt; stepped at dt = 0.0001" in err  # the note, once
    assert err.count("stepped at dt") == 1 and "stepping at" not in err
    ref = execute(load_nir(graph), x.astype(float), dt=1e-4, record=True)
    with np.load(tmp_path / "y.npz") as saved:
        assert sorted(saved.files) == ["output"]
        np.testing.assert_array_equal(saved["output"], ref.outputs["output"])
    # the rates Lava counted are the executor's spikes over all neuron-steps
    assert report["firing_rates"]["lif1.lif"] == pytest.approx(ref.trace["lif1.lif"].mean(), abs=0)
    assert report["processes"] >= 1 and report["latency_steps"]["output"] >= 1


def test_one_spike_off_the_executor_clears_the_flag(run_sbn, tmp_path, monkeypatch):
    """The cross-check can fail: Lava's output (as the in-process run reads it) gets one
    spike flipped; the report says so and the saved streams are Lava's, flip included."""
    import sbn.targets.lava as lava

    real = lava.simulate

    def flipped(graph, inputs, **kwargs):
        run = real(graph, inputs, **kwargs)
        out = run.outputs["output"].copy()
        out[5, 1, 3] = 1.0 - out[5, 1, 3]
        run.outputs = {"output": out}
        return run

    monkeypatch.setattr(lava, "simulate", flipped)
    x, graph, (code, out, err) = _braille_in_lava(run_sbn, tmp_path)
    assert code == 0, err
    assert json.loads(out)["executor_outputs_identical"] is False
    ref = execute(load_nir(graph), x.astype(float), dt=1e-4).outputs["output"]
    with np.load(tmp_path / "y.npz") as saved:
        differs = np.argwhere(saved["output"] != ref)
    assert differs.tolist() == [[5, 1, 3]]


def test_executor_backend_one_sample_npz_by_name_and_dt_override(run_sbn, tmp_path):
    g = biased_recurrent_affine()
    nir.write(tmp_path / "g.nir", g)
    x = np.zeros((3, 2))  # [T, *in]: one sample
    np.savez(tmp_path / "x.npz", **{"in": x})
    code, out, err = run_sbn(
        "sim",
        tmp_path / "g.nir",
        "--input",
        tmp_path / "x.npz",
        "--dt",
        "1",
        "--backend",
        "executor",
        "--format",
        "json",
        "--out",
        tmp_path / "y.npz",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["dt"] == 1.0 and report["dt_source"] == "--dt" and "note:" not in err
    assert report["samples"] == 1 and report["outputs"]["out"]["shape"] == [3, 1, 2]
    with np.load(tmp_path / "y.npz") as saved:  # by hand in tests/graph/test_schedule.py
        np.testing.assert_array_equal(saved["out"][:2, 0], [[1.0, 0.0], [1.0, 0.0]])


def test_unstable_time_constant_is_named(run_sbn, tmp_path):
    g = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([1])}),
            "fast": lif(1),
            "out": nir.Output(output_type={"output": np.array([1])}),
        },
        edges=[("in", "fast"), ("fast", "out")],
    )
    nir.write(tmp_path / "g.nir", g)
    np.save(tmp_path / "x.npy", np.ones((2, 1)))
    code, out, err = run_sbn(
        "sim", tmp_path / "g.nir", "--input", tmp_path / "x.npy", "--dt", "5", "--backend", "executor"
    )
    assert code == 0, err
    assert err.count("warning: node 'fast': dt / tau = 2.5 > 1 at dt = 5") == 1
    assert "firing rate" in out and "fast" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--samples", "3"], "--samples: a dataset option, not for --input"),
        (["--backend", "executor", "--checkpoint", "{g}"], "--checkpoint: a dataset option, not for --input"),
    ],
)
def test_dataset_options_are_refused_with_input(run_sbn, tmp_path, args, message):
    nir.write(tmp_path / "g.nir", biased_recurrent_affine())
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    args = [a.format(g=tmp_path / "g.nir") for a in args]
    code, _, err = run_sbn("sim", tmp_path / "g.nir", "--input", tmp_path / "x.npy", *args)
    assert code == 1 and err.strip().splitlines() == [
        f"error: {message} (the samples come from the input file)"
    ]


def test_stream_options_without_input_are_refused(run_sbn, tmp_path):
    nir.write(tmp_path / "g.nir", biased_recurrent_affine())
    code, _, err = run_sbn("sim", tmp_path / "g.nir", "--dt", "1")
    assert code == 1 and err.strip() == "error: --dt goes with --input (a graph on given streams)"


def test_bad_streams_are_one_line_errors(run_sbn, tmp_path):
    nir.write(tmp_path / "g.nir", biased_recurrent_affine())
    np.save(tmp_path / "wrong.npy", np.zeros((3, 5)))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "x.txt").write_text("1 2")
    cases = {
        "wrong.npy": "input 'in' has shape (3, 5); expected [T, 2] or [T, B, 2]",
        "objects.npy": "holds Python objects; numeric arrays only",
        "x.txt": "input streams come as .npy (one Input) or .npz (by Input name), not .txt",
    }
    for name, message in cases.items():
        code, _, err = run_sbn("sim", tmp_path / "g.nir", "--input", tmp_path / name)
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1 and message in lines[0], (name, err)
    code, _, err = run_sbn(
        "sim", tmp_path / "g.nir", "--input", tmp_path / "wrong.npy", "--out", tmp_path / "y.json"
    )
    assert code == 1 and "written as .npz" in err


def test_read_streams_shapes_and_names(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros((4, 2, 3)), b=np.ones((4, 2, 1)))
    feeds = read_streams(tmp_path / "two.npz", {"a": (3,), "b": (1,)})
    assert {k: v.shape for k, v in feeds.items()} == {"a": (4, 2, 3), "b": (4, 2, 1)}
    assert feeds["b"].dtype == np.float64
    with pytest.raises(DataError, match=r"missing \['c'\], unknown \['b'\]"):
        read_streams(tmp_path / "two.npz", {"a": (3,), "c": (1,)})
    np.savez(tmp_path / "disagree.npz", a=np.zeros((4, 2, 3)), b=np.ones((5, 2, 1)))
    with pytest.raises(DataError, match=r"disagree on \[T, B\]"):
        read_streams(tmp_path / "disagree.npz", {"a": (3,), "b": (1,)})
    np.save(tmp_path / "nan.npy", np.array([[np.nan]]))
    with pytest.raises(DataError, match="inf or nan"):
        read_streams(tmp_path / "nan.npy", {"a": (1,)})
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="not a valid .npz"):
        read_streams(tmp_path / "broken.npz", {"a": (1,)})
