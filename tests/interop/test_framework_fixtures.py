"""Our portable files as other frameworks ran them: the committed outputs of snntorch,
SpikingJelly and norse (tests/fixtures/interop, made once by examples/interop/make_fixtures.py;
no framework is needed here) against our executor and the Lava target, spike for spike."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest

from sbn.graph import execute, load_nir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
FRAMEWORKS = ["snntorch", "spikingjelly", "norse"]
PARTS = ["full", "device", "edge"]


@pytest.fixture(scope="module")
def inputs():
    with np.load(FIXTURES / "inputs.npz") as data:
        steps, images = int(data["time_steps"]), data["images"]
        frames = np.broadcast_to(images, (steps, *images.shape))
        return {"full": frames, "device": frames, "edge": data["payload"]}


@pytest.fixture(scope="module")
def ours(inputs):
    """Our executor on each committed file: every node's output over time."""
    return {
        part: execute(load_nir(FIXTURES / "portable" / f"{part}.nir"), inputs[part], record=True)
        for part in PARTS
    }


def framework_outputs(framework: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{framework}.npz") as data:
        return {key: data[key] for key in data.files}


def test_fixtures_are_portable_exports_with_recorded_versions():
    manifest = json.loads((FIXTURES / "portable" / "manifest.json").read_text())
    assert (manifest["profile"], manifest["dt"]) == ("portable", 1e-4)
    versions = json.loads((FIXTURES / "versions.json").read_text())
    assert set(FRAMEWORKS) <= set(versions["packages"]) and set(FRAMEWORKS) <= set(versions["loaded_with"])
    for part in PARTS:
        graph = load_nir(FIXTURES / "portable" / f"{part}.nir")
        assert graph.metadata["sbn.profile"] == "portable"
        assert not any(node.metadata for node in graph.nodes.values())


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_neuron_spikes_as_in_the_framework(framework, part, ours):
    theirs = framework_outputs(framework)
    graph = load_nir(FIXTURES / "portable" / f"{part}.nir")
    neurons = [n for n, node in graph.nodes.items() if isinstance(node, nir.LIF)]
    assert sorted(k.split(".", 2)[2] for k in theirs if k.startswith(f"{part}.spikes.")) == sorted(neurons)
    fired = 0
    for name in neurons:
        want = ours[part].trace[name]
        np.testing.assert_array_equal(
            theirs[f"{part}.spikes.{name}"], want, err_msg=f"{framework} {part} {name}"
        )
        fired += int(want.sum())
    assert fired > 0.05 * sum(ours[part].trace[n].size for n in neurons)  # it proves something


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_outputs_as_in_the_framework(framework, part, ours):
    """The payload (device) bit for bit; logits to float32 rounding (the frameworks ran in
    float32, as their users do), with the same class at every step."""
    got = framework_outputs(framework)[f"{part}.output"]
    want = ours[part].outputs["output"]
    assert got.shape == want.shape
    if part == "device":
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(2), want.argmax(2))


def test_lava_runs_the_portable_device_file_as_the_frameworks(inputs):
    from sbn.targets.lava import simulate

    run = simulate(FIXTURES / "portable" / "device.nir", inputs["device"])
    payload = run.outputs["output"]
    assert payload.mean() > 0.05
    for framework in ("snntorch", "spikingjelly"):
        np.testing.assert_array_equal(
            payload, framework_outputs(framework)["device.output"], err_msg=framework
        )


@pytest.mark.parametrize("backend", ["executor", "lava"])
def test_sbn_sim_input_reproduces_the_frameworks_payload(backend, inputs, tmp_path, monkeypatch, capsys):
    """The command line a user of another framework runs: `sbn sim device.nir --input X.npy
    --out Y.npz`; its Output stream equals what snntorch and SpikingJelly computed, 100 %."""
    import sys

    import sbn.cli

    np.save(tmp_path / "x.npy", np.ascontiguousarray(inputs["device"]))
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "sbn",
            "sim",
            str(FIXTURES / "portable" / "device.nir"),
            "--input",
            str(tmp_path / "x.npy"),
            "--backend",
            backend,
            "--out",
            str(tmp_path / "y.npz"),
            "--format",
            "json",
        ],
    )
    try:
        sbn.cli.main()
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["dt"] == 1e-4 and report["dt_source"] == "graph"
    with np.load(tmp_path / "y.npz") as saved:
        for framework in ("snntorch", "spikingjelly", "norse"):
            np.testing.assert_array_equal(
                saved["output"], framework_outputs(framework)["device.output"], err_msg=framework
            )
