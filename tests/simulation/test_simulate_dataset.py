"""Merging chunked Lava evaluations: failed chunks are reported, never silently dropped."""

import json

import numpy as np
import pytest
import torch

from sbn import checkpoint as ckpt_io
from sbn import simulation as ev
from sbn.models import BottleneckConfig, ModelConfig, build_model
from sbn.models.norm import TdBatchNorm


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    from sbn.graph import export_checkpoint

    cfg = ModelConfig(
        width=0.0625, layers=(1, 1, 1, 1), num_classes=10, time_steps=2, bottleneck=BottleneckConfig(3, 4, 2)
    )
    torch.manual_seed(5)
    model = build_model(cfg)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, TdBatchNorm)):
            bn.momentum = 1.0
        model.train()(torch.rand(4, 3, 32, 32))
    root = tmp_path_factory.mktemp("eval")
    ckpt_io.save(root / "m.safetensors", ckpt_io.Checkpoint(cfg, model.eval().state_dict()))
    export_checkpoint(root / "m.safetensors", root / "export")
    return root


def _data(n):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, 32, 32, generator=g).double().numpy(), np.arange(n) % 10


def test_chunks_merge_like_one_run(export_dir):
    source = ev.SimSource.resolve(export_dir / "export")
    images, labels = _data(5)
    whole = ev.simulate_dataset(
        source,
        images,
        labels,
        time_steps=2,
        fuse="graph",
        batch_size=8,
        checkpoint=str(export_dir / "m.safetensors"),
    )
    chunked = ev.simulate_dataset(
        source,
        images,
        labels,
        time_steps=2,
        fuse="graph",
        batch_size=8,
        chunk_size=2,
        checkpoint=str(export_dir / "m.safetensors"),
    )
    assert [r["index"] for r in chunked["results"]] == [0, 1, 2, 3, 4]
    assert whole["results"] == chunked["results"]
    assert whole["agreement"] == chunked["agreement"]
    assert whole["agreement"]["executor_outputs_identical"] is True
    assert whole["agreement"]["pytorch_predictions"] == 1.0  # float64 PyTorch, spikes exact
    # RB3 of (1,1,1,1) at width 1/16 is 64x8x8; C'=4, s=2 -> 4*4*4*2 = 128 bits = 16 bytes
    assert whole["bytes_per_sample"] == {"measured": 16.0, "bitmap": 16, "manifest": 16}
    assert whole["bits_on_the_wire"] == 5 * 128
    rates = [r["payload_firing_rate"] for r in whole["results"]]
    assert whole["payload_firing_rate"] == pytest.approx(np.mean(rates))
    # per-node firing rates merged over chunks equal those of one run
    assert chunked["firing_rates"].keys() == whole["firing_rates"].keys()
    for node, rate in whole["firing_rates"].items():
        assert chunked["firing_rates"][node] == pytest.approx(rate, abs=1e-15), node
    # the payload is the device graph's encoder LIF output: same rate, two ways
    assert whole["firing_rates"]["device:encoder.lif"] == pytest.approx(whole["payload_firing_rate"])
    assert "edge:decoder.lif" in whole["firing_rates"]
    json.dumps(whole)


def test_failed_chunk_is_reported_with_its_samples(export_dir, monkeypatch):
    source = ev.SimSource.resolve(export_dir / "export")
    images, labels = _data(4)
    real = ev.run_chunk
    calls = []

    def flaky(chunk):
        calls.append(chunk.start)
        if chunk.start == 2:
            raise RuntimeError("worker lost")
        return real(chunk)

    monkeypatch.setattr(ev, "run_chunk", flaky)
    report = ev.simulate_dataset(source, images, labels, time_steps=2, fuse="graph", chunk_size=2, retries=1)
    assert calls == [0, 2, 2]  # the failing chunk was retried once
    assert report["simulated"] == 2 and report["samples"] == 4
    assert report["failed"] == [{"samples": [2, 3], "error": "RuntimeError: worker lost", "attempts": 2}]
    assert [r["index"] for r in report["results"]] == [0, 1]


def test_single_graph_off_the_executor_clears_the_flag(export_dir, monkeypatch):
    """full.nir in one Lava network: Lava's output made wrong by hand for sample 2 (class
    0, or 1, ahead by 1000) makes that row's outputs and prediction disagree with the
    executor's; there is no payload to compare."""
    real = ev.simulate

    def wrong(graph, inputs, **kwargs):
        run = real(graph, inputs, **kwargs)
        (name, out), *_ = run.outputs.items()
        out = out.copy()
        out[:, 2, 1 if out[:, 2].mean(axis=0).argmax() == 0 else 0] += 1000.0
        run.outputs = {name: out}
        return run

    monkeypatch.setattr(ev, "simulate", wrong)
    source = ev.SimSource.resolve(export_dir / "export" / "full.nir")
    images, labels = _data(4)
    report = ev.simulate_dataset(source, images, labels, time_steps=2, fuse="graph")
    rows = report["results"]
    assert [r["outputs_identical"] for r in rows] == [True, True, False, True]
    assert [r["prediction"] == r["executor"] for r in rows] == [True, True, False, True]
    assert report["agreement"]["executor_outputs_identical"] is False
    assert report["agreement"]["executor_predictions"] == 0.75
    assert report["agreement"]["payload_identical_to_executor"] is None


def test_manifest_mismatch_is_an_error(export_dir, tmp_path):
    import shutil

    folder = tmp_path / "export"
    shutil.copytree(export_dir / "export", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["bits_per_sample"] = 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    images, labels = _data(1)
    # a manifest that contradicts itself is refused when read (sbn.graph.manifest_read) ...
    with pytest.raises(ev.ConfigError, match=r"bits_per_sample 64 is not the product of payload_shape"):
        ev.SimSource.resolve(folder)
    # ... and one that the run contradicts, after the run
    good = ev.SimSource.resolve(export_dir / "export")
    lying = ev.SimSource(good.first, good.second, manifest, good.label)
    with pytest.raises(
        ev.SimulationError, match=r"measured \[16\] bitmap bytes per sample, the manifest says 8"
    ):
        ev.simulate_dataset(lying, images, labels, time_steps=2, fuse="graph")


def test_rounding_difference_names_rounding_only():
    """The note of `sbn sim`: a difference from the executor at most ROUNDING is float64
    rounding; none where the outputs are identical, differ by more, or nothing ran."""

    def report(identical, difference):
        return {
            "agreement": {
                "executor_outputs_identical": identical,
                "executor_outputs_max_difference": difference,
            }
        }

    assert ev.rounding_difference(report(False, 2e-15)) == 2e-15
    assert ev.rounding_difference(report(False, ev.ROUNDING)) == ev.ROUNDING
    assert ev.rounding_difference(report(False, 1e-3)) is None
    assert ev.rounding_difference(report(True, 0.0)) is None
    assert ev.rounding_difference(report(None, None)) is None
