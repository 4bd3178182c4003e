"""Nothing silent (issue 15, items 5-11, 13 and a-j): damaged graphs, manifests, checkpoints,
datasets, sweep ledgers and demo stamps, and numbers out of range, through the CLI. Each is
refused with exit code 1 and one line naming the thing, leaving every input as it was."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from sbn import checkpoint as ckpt_io

NIR_DAMAGE = {
    "no version": (lambda f, n, kit: f.__delitem__("version"), "states no NIR version"),
    "future version": (lambda f, n, kit: kit.set_dataset(f, "version", "9.0"), "newer than"),
    "unknown node type": (
        lambda f, n, kit: kit.set_dataset(n["rb1.lif1"], "type", "Foo"),
        "node 'rb1.lif1' has type Foo",
    ),
    "stride 0": (
        lambda f, n, kit: kit.set_dataset(n["encoder.conv"], "stride", np.array([0, 0])),
        "node encoder.conv: stride [0, 0] must be positive",
    ),
    "wrong input channels": (
        lambda f, n, kit: kit.set_dataset(n["rb1.conv2"], "weight", np.zeros((4, 8, 3, 3))),
        "node rb1.conv2: its weight reads 8 input channels",
    ),
    "residual of 16 and 32 channels": (
        lambda f, n, kit: (
            kit.set_dataset(n["rb1.downsample"], "weight", np.zeros((32, 4, 1, 1))),
            kit.set_dataset(n["rb1.downsample"], "bias", np.zeros(32)),
        ),
        "cannot be summed",
    ),
    "input of 3x100000x100000": (
        lambda f, n, kit: kit.set_dataset(n["input"], "shape", np.array([3, 100000, 100000])),
        "node input: input shape [3, 100000, 100000] has more than",
    ),
    "dangling edge": (
        lambda f, n, kit: kit.set_dataset(
            f["node"],
            "edges",
            np.concatenate([f["node"]["edges"][()], np.array([[b"stem.lif", b"nowhere"]])]),
        ),
        "'nowhere'",
    ),
}


@pytest.fixture
def damaged(work, kit):
    """``damaged(name)``: work/export with device.nir damaged as NIR_DAMAGE[name] says."""

    def make(name):
        change, _ = NIR_DAMAGE[name]
        kit.mutate_nir(work / "export" / "device.nir", lambda f, n: change(f, n, kit))
        return work / "export"

    return make


@pytest.mark.parametrize("damage", sorted(NIR_DAMAGE))
def test_map_reads_nir_through_the_checked_reader(damaged, refused, damage):
    export = damaged(damage)
    refused("map", export / "device.nir", "--target", "loihi2", touches=[export], match=NIR_DAMAGE[damage][1])


@pytest.mark.parametrize("damage", ["stride 0", "future version", "input of 3x100000x100000"])
def test_sim_refuses_damaged_graphs_before_lava(damaged, refused, damage):
    export = damaged(damage)
    refused("sim", export, "--samples", "2", touches=[export], match=NIR_DAMAGE[damage][1])


MANIFEST_DAMAGE = {
    "time_steps 'two'": (lambda m: {**m, "time_steps": "two"}, "time_steps must be a whole number"),
    "a JSON list": (
        lambda m: [m],
        "an export manifest must be a table (a JSON object) at the top, found list",
    ),
    "files pointing nowhere": (
        lambda m: {**m, "files": {**m["files"], "device": "nope.nir"}},
        "files.device names nope.nir",
    ),
    "files outside the folder": (
        lambda m: {**m, "files": {**m["files"], "device": "../m.safetensors"}},
        "must be a file name in the export folder",
    ),
    "payload_shape lies": (
        lambda m: {**m, "payload_shape": [2, 8, 16, 16], "bits_per_sample": 4096},
        "device.nir outputs 1024",
    ),
    "split lies": (lambda m: {**m, "split": "RB3"}, "split is 'RB3', the graph"),
    "num_classes lies": (lambda m: {**m, "num_classes": 100}, "num_classes is 100"),
}


#: sim checks the manifest against every graph; quantize reads the fields and the device graph
MANIFEST_CASES = [("sim", d) for d in sorted(MANIFEST_DAMAGE)] + [
    ("quantize", d) for d in sorted(MANIFEST_DAMAGE) if "lies" not in d
]


@pytest.mark.parametrize("command, damage", MANIFEST_CASES)
def test_manifest_fields_are_checked(work, refused, command, damage):
    change, message = MANIFEST_DAMAGE[damage]
    path = work / "export" / "manifest.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    refused(
        command,
        work / "export",
        *(["--samples", "2"] if command == "sim" else []),
        touches=[work],
        match=message,
    )


def test_sim_with_another_checkpoint_than_the_exported_one_is_refused(work, refused):
    refused(
        "sim",
        work / "export",
        "--checkpoint",
        work / "backbone.safetensors",
        touches=[work],
        match="is not the model",
    )


def test_sim_of_a_payload_graph_reports_no_accuracy(work, run_sbn):
    code, out, err = run_sbn("sim", work / "export" / "device.nir", "--samples", "2", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["accuracy"] is None
    assert "outputs 1024 values per sample, not 10 class scores: no accuracy" in err


def test_sim_notes_when_the_dataset_has_fewer_samples(work, run_sbn, monkeypatch):
    from sbn import data

    real = data.load_dataset
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: real(*a, **k).subset(2))
    code, out, err = run_sbn("sim", work / "export", "--samples", "50", "--format", "json")
    assert code == 0, err
    assert "note: digits has 2 test images: running 2, not 50" in err
    assert json.loads(out)["samples"] == 2


def test_sim_table_when_every_sample_fails(work, kit, run_sbn):
    """A subtractive reset (which loads, but Lava cannot simulate exactly) fails in every
    chunk: the table is printed with '-' and one error line. (tau = 0 once served; the reader
    refuses it now, before any run.)"""

    def subtract(f, nodes):
        lif = nodes["stem.lif"]
        meta = lif["metadata"] if "metadata" in lif else lif.create_group("metadata")
        kit.set_dataset(meta, "reset_mode", "subtract")

    kit.mutate_nir(work / "export" / "device.nir", subtract)
    code, out, err = run_sbn("sim", work / "export", "--samples", "2")
    assert code == 1
    assert "accuracy - |" in out
    assert err.strip().splitlines() == [
        "error: 2 of 2 samples failed: SimulationError: node stem.lif: reset mode "
        "'subtract' cannot be simulated exactly; only the hard reset to v_reset (NIR's rule) is supported"
    ]


def _with_nan(src, dst):
    ckpt = ckpt_io.load(src)
    name = next(k for k, v in ckpt.model_state.items() if v.is_floating_point())
    ckpt.model_state[name] = torch.full_like(ckpt.model_state[name], float("nan"))
    ckpt_io.save(dst, ckpt)
    return name


@pytest.mark.parametrize(
    "command",
    [
        ["export", "{ckpt}", "--out", "{work}/e"],
        ["energy", "--checkpoint", "{ckpt}", "--samples", "2"],
    ],
)
def test_nan_weights_are_refused(work, refused, command):
    name = _with_nan(work / "m.safetensors", work / "nan.safetensors")
    refused(
        *(a.format(ckpt=work / "nan.safetensors", work=work) for a in command),
        touches=[work],
        match=f"{name} holds",
    )
    assert not (work / "e").exists()


def test_a_checkpoint_asking_for_a_petabyte_is_refused_before_allocating(work, refused):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(work / "m.safetensors"), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["config"])
    config["num_classes"] = 10**12
    save_file(tensors, str(work / "huge.safetensors"), metadata={**meta, "config": json.dumps(config)})
    refused(
        "export",
        work / "huge.safetensors",
        "--out",
        work / "e",
        touches=[work],
        match="num_classes must be a whole number in 2..100,000",
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["energy", "--firing-rate", "0.1", "--samples", "0"], "Invalid value for '--samples'"),
        (["bits", "--channels", "99999999999999999999"], "Invalid value for '--channels'"),
        (["bits", "--channels", "4", "--width", "inf"], "Invalid value for '--width'"),
        (["energy", "--width", "nan", "--firing-rate", "0.1"], "'nan' is not a finite number"),
        (["sim", "{export}", "--samples", "99999999999"], "Invalid value for '--samples'"),
        (["train", "--out", "{work}/c.safetensors", "--epochs", "1e3"], "Invalid value for '--epochs'"),
        (["train", "--out", "{work}/missing.safetensors", "--resume"], "which does not exist"),
    ],
)
def test_numbers_out_of_range_and_a_resume_of_nothing(work, refused, args, message):
    refused(*(a.format(export=work / "export", work=work) for a in args), touches=[work], match=message)
    assert not (work / "missing.safetensors").exists()


def _cifar10(root, batch):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    return root


@pytest.mark.parametrize(
    "batch, message",
    [
        ({b"\xff\xfe": 1, b"labels": [0]}, "expected keys 'data' and 'labels'"),
        ({b"data": [[1, 2], [3]], b"labels": [0, 1]}, "'data' and 'labels' must be"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["cat", "dog"]}, "'data' and 'labels' must be"),
    ],
)
def test_fake_cifar_pickles_are_one_line(work, refused, batch, message):
    root = _cifar10(work / "cifar", batch)
    refused(
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        root,
        "--out",
        work / "c.safetensors",
        touches=[root],
        match=message,
    )


# ---- the sweep's ledger --------------------------------------------------------------------
#: a budget every one-epoch trial meets, so that the sweep chooses one
ANY_ACCURACY = ["--budget", "100", "--relaxed-budget", "100"]


@pytest.fixture
def finished_sweep(work, run_sbn):
    """A sweep of one trial, finished (``sbn sweep`` in this process, no Ray)."""
    out = work / "sweep"
    code, _, err = run_sbn(
        "sweep",
        "--backbone",
        work / "backbone.safetensors",
        "--splits",
        "RB1",
        "--channels",
        "4",
        "--strides",
        "1",
        "--T",
        "2",
        "--epochs",
        "1",
        "--train-samples",
        "16",
        "--test-samples",
        "8",
        "--rates-samples",
        "4",
        "--workers",
        "0",
        "--out",
        out,
        "--format",
        "json",
        *ANY_ACCURACY,
    )
    assert code == 0, err
    return out


def test_sweep_resume_trains_a_truncated_trial_again(finished_sweep, run_sbn):
    trial = next((finished_sweep / "trials").glob("*.safetensors"))
    data = trial.read_bytes()
    trial.write_bytes(data[:10000])  # head -c 10000
    code, out, err = run_sbn("sweep", "--out", finished_sweep, "--resume", "--format", "json", *ANY_ACCURACY)
    assert code == 0, err
    assert "1 finished trial(s) trained again: their checkpoint was missing or had changed" in err
    record = json.loads(trial.with_suffix(".json").read_text())
    assert record["checkpoint_sha256"] == ckpt_io.file_sha256(trial)
    assert ckpt_io.file_sha256(finished_sweep / "chosen.safetensors") == record["checkpoint_sha256"]
    assert trial.with_name(f"{trial.stem}.changed.safetensors").read_bytes() == data[:10000]


def test_a_trial_record_without_id_is_one_line(finished_sweep, refused):
    record_file = next((finished_sweep / "trials").glob("*.json"))
    record = json.loads(record_file.read_text())
    del record["id"]
    record_file.write_text(json.dumps(record))
    refused(
        "sweep",
        "--out",
        finished_sweep,
        "--resume",
        touches=[finished_sweep],
        match=f"{record_file}: id None is not the file's name",
    )


# ---- the demo's stamps ---------------------------------------------------------------------
def test_demo_with_garbage_stamps_is_one_line(work, refused):
    (work / "demo").mkdir()
    (work / "demo" / "stamps.json").write_text("{not json")
    refused("demo", "--out", work / "demo", touches=[work], match="pass --fresh")


def test_demo_stamps_notice_a_replaced_output(tmp_path):
    from sbn.demo_stamps import Stamps

    out = tmp_path / "result.json"
    stamps = Stamps(tmp_path)
    assert not stamps.fresh("step", "key1", out)
    out.write_text("the step's result")
    stamps.mark("step", "key1")
    assert Stamps(tmp_path).fresh("step", "key1", out)
    assert not Stamps(tmp_path).fresh("step", "key2", out)  # other inputs
    out.write_text("garbage")
    assert not Stamps(tmp_path).fresh("step", "key1", out)  # same inputs, output replaced
    shutil.rmtree(tmp_path)
