"""``sbn export --profile``: the portable files run as the sbn files do; bad names fail cleanly."""

import json

import numpy as np
import pytest

from sbn import checkpoint as ckpt_io
from sbn.graph import execute, load_nir
from sbn.models import BottleneckConfig, ModelConfig

CONFIG = ModelConfig(
    width=0.0625,
    layers=(1, 1, 1, 1),
    image_size=16,
    num_classes=5,
    time_steps=3,
    bottleneck=BottleneckConfig(split=2, channels=4, stride=2),
)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, calibrate):
    """The same checkpoint exported with both profiles: (sbn folder, portable folder)."""
    import sbn.cli

    root = tmp_path_factory.mktemp("profiles")
    model = calibrate(CONFIG, seed=6)
    ckpt_io.save(root / "m.safetensors", ckpt_io.Checkpoint(CONFIG, model.state_dict()))
    for profile in ("sbn", "portable"):
        sbn.cli.run(
            sbn.cli.cli,
            ["export", str(root / "m.safetensors"), "--out", str(root / profile), "--profile", profile],
        )
    return root / "sbn", root / "portable"


def test_portable_manifest_records_profile_dt_and_node_metadata(exports):
    exact, portable = (json.loads((d / "manifest.json").read_text()) for d in exports)
    assert (exact["profile"], exact["dt"]) == ("sbn", 1.0)
    assert (portable["profile"], portable["dt"]) == ("portable", 1e-4)
    assert "node_metadata" not in exact
    assert portable["node_metadata"]["decoder.lif"] == {"sbn.module": "bottleneck.dec_act", "sbn.phases": 2}
    assert portable["payload_shape"] == exact["payload_shape"] == [3, 4, 4, 4]
    assert not any(load_nir(exports[1] / "full.nir").nodes["stem.lif"].metadata)


@pytest.mark.parametrize("part", ["full", "device"])
def test_portable_files_give_the_sbn_files_results(exports, part):
    x = np.broadcast_to(np.random.default_rng(2).random((2, 3, 16, 16)), (3, 2, 3, 16, 16))
    want = execute(load_nir(exports[0] / f"{part}.nir"), x).outputs["output"]
    got = execute(load_nir(exports[1] / f"{part}.nir"), x).outputs["output"]
    if part == "device":  # spikes: identical
        assert 0.05 < want.mean() < 0.7
        np.testing.assert_array_equal(got, want)
    else:  # logits: the head sums in another order
        np.testing.assert_allclose(got[..., 0, 0], want, rtol=0, atol=1e-12)


def test_unknown_profile_is_one_line_naming_the_accepted_ones(run_sbn, tmp_path, exports):
    ckpt = exports[0].parent / "m.safetensors"
    code, _, err = run_sbn("export", ckpt, "--out", tmp_path / "out", "--profile", "norse")
    assert code == 1
    assert err == "error: unknown profile 'norse': accepted profiles are sbn, portable\n"
    assert not (tmp_path / "out").exists()
