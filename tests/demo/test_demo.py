"""`sbn demo` end to end on a tiny setting: every artefact, reuse on the second run, errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SBN = Path(sys.executable).parent / "sbn"
TINY = [
    "--width",
    "0.0625",
    "--T",
    "1",
    "--epochs",
    "1",
    "--finetune-epochs",
    "1",
    "--samples",
    "4",
    "--fixed-samples",
    "4",
    "--split",
    "RB3",
    "--channels",
    "4",
]
QAT = ["--qat-epochs", "1"]  # the default 2, shortened


def sbn(*args, timeout=900):
    return subprocess.run([str(SBN), *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    first = sbn("demo", "--out", out, *TINY, *QAT)
    assert first.returncode == 0, first.stderr[-2000:]
    return out, first


def test_report_folder(demo_dir):
    out, first = demo_dir
    for name in (
        "backbone.safetensors",
        "spikebottlenet.safetensors",
        "export/full.nir",
        "export/device.nir",
        "export/edge.nir",
        "export/manifest.json",
        "map.json",
        "lava.json",
        "channel.json",
        "channel.png",
        "lava-fixed.json",
        "rates-fixed.json",
        "spikebottlenet-loihi2.safetensors",
        "export-loihi2/device.nir",
        "export-loihi2/device.loihi2.safetensors",
        "energy.json",
        "energy.png",
        "bits.json",
        "bits.png",
        "report.json",
        "report.md",
    ):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "sbn.demo/1"
    lava = report["lava"]
    # Lava runs the exported graphs; float64 PyTorch and the executor must agree with it
    assert lava["samples"] == 4 and lava["failed"] == []
    assert lava["executor_outputs_identical"] is True
    assert lava["payload_identical_to_executor"] is True
    assert lava["agreement"] == 1.0
    # RB3 at width 1/16 is 16x32x32; C'=4, T=1 -> 4*32*32 = 4,096 bits = 512 bytes per sample
    assert lava["bytes_per_sample"] == lava["manifest_bytes_per_sample"] == 512
    assert report["bits"]["transmitted_bits"] == 4096
    assert report["bits"]["compression_ratio"] == 4.0
    assert report["export"]["split"] == "RB3"
    assert report["energy"]["at_split"]["split"] == "RB3"
    assert set(report["map"]) == {"device", "edge"}
    fixed = report["fixed_point"]  # the device half on Lava's fixed-point processes
    assert fixed["target"] == "loihi2" and fixed["samples"] == 4
    # ... of the model fine-tuned with the chip's rounding, from the demo's SpikeBottleNet
    assert (fixed["export"], fixed["quantisation_aware_epochs"]) == ("export-loihi2", 1)
    qat = report["training"]["quantisation_aware"]
    assert qat["epochs"] == 1 and 0 <= qat["quantized_accuracy_before"] <= 1
    assert fixed["bytes_per_sample"] == 512 and 0.9 < fixed["spike_agreement_min"] <= 1  # measured 0.975
    assert fixed["synaptic_ops_per_sample"] > 0
    assert "fixed point on Lava's Conv/LIF processes" in (out / "report.md").read_text()
    assert "SpikeBottleNet demo report" in first.stdout
    channel = report["channel"]  # the same samples through bit errors, per codec
    assert channel["samples"] == 4 and channel["channels"] == ["bsc:1e-4", "bsc:1e-3", "bsc:1e-2"]
    assert channel["bytes_per_sample"]["bitmap"] == 512
    assert set(channel["results"]) == {"bitmap", "aer", "rle", "zlib"}
    assert channel["results"]["bitmap"]["bsc:1e-2"]["lost_frames"] == 0  # the bitmap never loses one
    assert channel["results"]["zlib"]["bsc:1e-2"]["lost_frames"] == 4  # ~40 flips: Adler-32 fails
    assert "accuracy at bit-error rate 1e-4 / 1e-3 / 1e-2, rle" in (out / "report.md").read_text()
    for step in range(1, 12):
        assert f"[{step}/11]" in first.stderr
    assert "quantisation-aware fine-tune for loihi2 (1 epochs)" in first.stderr


def test_accuracies_are_those_of_the_saved_models(demo_dir):
    """The reference figures recomputed from the saved checkpoints, on the same test images:
    the quantisation-aware fine-tune starts from spikebottlenet.safetensors, whose accuracy
    on the digits test split is its float_accuracy (and the fine-tune step's own figure),
    and in the chip's rounding (sbn.qat) its quantized_accuracy_before; the fixed-point
    step's float predictions are the fine-tuned model's in float64 on its first samples."""
    import torch

    from sbn import checkpoint as ckpt_io
    from sbn.data import load_dataset
    from sbn.qat import fake_quantized
    from sbn.targets import get_target

    out, _ = demo_dir
    report = json.loads((out / "report.json").read_text())
    test = load_dataset("digits", train=False)

    def accuracy(model):
        with torch.no_grad():
            predicted = torch.cat([model(test.images[i : i + 64]).argmax(1) for i in range(0, len(test), 64)])
        return int((predicted == test.labels).sum()) / len(test)

    model = ckpt_io.load(out / "spikebottlenet.safetensors").build().eval()
    qat = report["training"]["quantisation_aware"]
    assert qat["float_accuracy"] == pytest.approx(accuracy(model), abs=1e-12)  # measured 194 / 359
    assert qat["float_accuracy"] == report["training"]["spikebottlenet"]["accuracy"]
    with fake_quantized(model, get_target("loihi2")):
        assert qat["quantized_accuracy_before"] == pytest.approx(accuracy(model), abs=1e-12)  # 172 / 359

    fine_tuned = ckpt_io.load(out / "spikebottlenet-loihi2.safetensors").build().double().eval()
    with torch.no_grad():
        want = fine_tuned(test.images[:4].double()).argmax(1).tolist()
    rows = json.loads((out / "lava-fixed.json").read_text())["results"]
    assert [r["float"] for r in rows] == want
    fixed = report["fixed_point"]
    assert fixed["float_accuracy"] == sum(w == int(y) for w, y in zip(want, test.labels[:4])) / 4


def test_second_run_reuses_everything(demo_dir):
    out, _ = demo_dir
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")}
    again = sbn("demo", "--out", out, *TINY, *QAT)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("(reused)") == 11
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")} == before


def test_no_quantisation_aware_epochs_rounds_the_fine_tuned_model(demo_dir):
    out, _ = demo_dir
    plain = sbn("demo", "--out", out, *TINY, "--qat-epochs", "0")
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert "[9/9]" in plain.stderr and "quantisation-aware" not in plain.stderr
    assert plain.stderr.count("(reused)") == 8  # all but the fixed-point run, now on export/
    fixed = json.loads((out / "report.json").read_text())["fixed_point"]
    assert (fixed["export"], fixed["quantisation_aware_epochs"]) == ("export", 0)
    assert (out / "export/device.loihi2.safetensors").stat().st_size > 0
    assert "the SpikeBottleNet rounded as trained" in (out / "report.md").read_text()


def test_changed_setting_redoes_only_what_depends_on_it(demo_dir):
    out, _ = demo_dir
    backbone = out / "backbone.safetensors"
    before = backbone.stat().st_mtime_ns
    more = sbn("demo", "--out", out, *TINY[:-2], "--channels", "2", *QAT)
    assert more.returncode == 0, more.stderr[-2000:]
    assert "train backbone  (reused)" in more.stderr
    assert "train finetune  (reused)" not in more.stderr
    assert backbone.stat().st_mtime_ns == before
    assert json.loads((out / "report.json").read_text())["bits"]["transmitted_bits"] == 2048


@pytest.mark.parametrize(
    "args, message",
    [
        (["--split", "RB17"], "unknown split 'RB17': valid splits are RB1..RB16"),
        (["--target", "truenorth"], "truenorth"),
        (["--stride", "3", "--split", "RB16"], "stride 3 does not divide the 4x4 map after RB16"),
    ],
)
def test_bad_arguments(tmp_path, args, message):
    result = sbn("demo", "--out", tmp_path / "d", *args, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert not (tmp_path / "d").exists()


def test_fresh_refuses_a_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    result = sbn("demo", "--out", tmp_path / "mine", "--fresh", timeout=120)
    assert result.returncode == 1 and "is not a demo folder" in result.stderr
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_cli_defaults_are_the_library_defaults():
    from sbn.cli.demo import demo
    from sbn.demo import DemoSettings

    defaults = {p.name: p.default for p in demo.params}
    settings = DemoSettings()
    for option, field in [
        ("epochs", "epochs"),
        ("finetune_epochs", "finetune_epochs"),
        ("width", "width"),
        ("time_steps", "time_steps"),
        ("split", "split"),
        ("channels", "channels"),
        ("stride", "stride"),
        ("samples", "lava_samples"),
        ("fixed_samples", "fixed_samples"),
        ("target", "target"),
        ("qat_epochs", "qat_epochs"),
        ("seed", "seed"),
    ]:
        assert defaults[option] == getattr(settings, field), option
