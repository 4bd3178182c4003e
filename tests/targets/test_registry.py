"""Built-in targets and user target files (TOML/JSON)."""

import json

import pytest

from sbn.errors import ConfigError
from sbn.targets.registry import get_target, known_targets, load_target_file, resolve_target, save_target_file
from sbn.targets.spec import Target

TOML = """
format = "sbn.target/1"
name = "board8"
description = "eight small chips"
chips = 8
cores_per_chip = 16
neurons_per_core = 512
synaptic_memory_bits_per_core = 524288
weight_bits = 4
shared_conv_weights = true
energy_per_synaptic_op_j = 5e-12
max_fan_in = 2048

[sources]
chips = "our lab board, rev B"
"""


def test_known_targets():
    assert known_targets() == ["loihi2", "rolls"]


def test_loihi2_figures():
    t = get_target("loihi2")
    assert (t.chips, t.cores_per_chip, t.neurons_per_core) == (1, 128, 8192)
    assert t.synaptic_memory_bits_per_core == 128 * 1024 * 8
    assert t.synapses_per_core == 131072  # 128 KiB of 8-bit weights
    assert t.shared_conv_weights
    assert set(dict(t.sources)) >= {
        "cores_per_chip",
        "neurons_per_core",
        "synaptic_memory_bits_per_core",
        "energy_per_synaptic_op_j",
    }


def test_rolls_figures():
    t = get_target("rolls")
    assert t.energy_per_synaptic_op_j == pytest.approx(77e-15)
    assert (t.cores, t.neurons_per_core, t.max_fan_in) == (1, 256, 512)
    assert t.synapses_per_core == 128 * 1024  # 256 neurons x (256 LTP + 256 STP)
    assert t.energy_per_neuron_update_j is None
    assert not t.shared_conv_weights


def test_unknown_name_lists_known_ones():
    with pytest.raises(ConfigError, match=r"unknown target 'loihi3'; known targets: loihi2, rolls"):
        get_target("loihi3")


def test_toml_target(tmp_path):
    path = tmp_path / "board8.toml"
    path.write_text(TOML)
    t = load_target_file(path)
    assert t.name == "board8" and t.cores == 128 and t.synapses_per_core == 131072
    assert t.max_fan_in == 2048 and t.max_fan_out is None and t.energy_per_neuron_update_j is None
    assert dict(t.sources) == {"chips": "our lab board, rev B"}
    assert resolve_target(str(path)) == t


def test_json_round_trip(tmp_path):
    for t in (get_target("loihi2"), get_target("rolls")):
        path = tmp_path / f"{t.name}.json"
        save_target_file(path, t)
        assert json.loads(path.read_text())["schema"] == "sbn.target/1"
        assert load_target_file(path) == t


def test_toml_and_json_agree(tmp_path):
    (tmp_path / "a.toml").write_text(TOML)
    t = load_target_file(tmp_path / "a.toml")
    save_target_file(tmp_path / "a.json", t)
    assert load_target_file(tmp_path / "a.json") == t


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda s: s.replace("chips = 8", "chips = 0"), r"board8.*'chips' must be a positive integer"),
        (lambda s: s.replace("weight_bits = 4", "weight_bit = 4"), r"unknown field 'weight_bit'"),
        (lambda s: s.replace("neurons_per_core = 512\n", ""), r"missing field 'neurons_per_core'"),
        (
            lambda s: s.replace("sbn.target/1", "sbn.target/9"),
            r"key 'schema' is 'sbn.target/9'; this sbn reads a target description",
        ),
        (lambda s: s.replace("chips = 8", "chips = "), r"not valid TOML"),
        (lambda s: s.replace('chips = "our', 'chip = "our'), r"source given for unknown field 'chip'"),
    ],
)
def test_malformed_file_names_file_and_field(tmp_path, edit, words):
    path = tmp_path / "bad.toml"
    path.write_text(edit(TOML))
    with pytest.raises(ConfigError, match=words) as info:
        load_target_file(path)
    assert str(path) in str(info.value)


def test_bad_suffix_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="must end in .toml or .json"):
        load_target_file(tmp_path / "t.yaml")
    with pytest.raises(ConfigError, match="cannot read a target description"):
        load_target_file(tmp_path / "missing.toml")
    (tmp_path / "t.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="a target description must be a table"):
        load_target_file(tmp_path / "t.json")


def test_target_is_plain_data():
    # the registry hands out the same frozen object; overriding chips makes a new one
    t = get_target("rolls")
    assert isinstance(t, Target) and t.with_chips(64).cores == 64 and get_target("rolls").cores == 1
