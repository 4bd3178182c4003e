"""Built-in and user cost presets, and clear errors for bad ones."""

import json
from pathlib import Path

import pytest

from sbn.energy import BUILTIN_PRESETS, CostPreset, load_preset_file, resolve_preset
from sbn.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"


def test_builtin_constants_are_the_published_ones():
    assert resolve_preset("45nm").e_mac_pj == 4.6  # 3.7 pJ mult + 0.9 pJ add
    assert resolve_preset("45nm").e_syop_pj == 0.9  # 32-bit float add
    assert resolve_preset("rolls").e_syop_pj == pytest.approx(0.077)  # 77 fJ
    assert resolve_preset("rolls").e_mac_pj is None
    assert resolve_preset("loihi2").e_syop_pj == 23.6
    assert resolve_preset("loihi") == resolve_preset("loihi2")  # the older name, an alias
    for p in BUILTIN_PRESETS.values():
        assert p.source, p.name


def test_a_chips_preset_is_read_from_its_target():
    """One source per figure: the target's joules are the preset's picojoules."""
    from sbn.targets.builtin import BUILTIN_TARGETS

    for name, target in BUILTIN_TARGETS.items():
        assert resolve_preset(name).e_syop_pj == pytest.approx(
            target.energy_per_synaptic_op_j * 1e12, rel=1e-12
        )
        assert resolve_preset(name).source == dict(target.sources)["energy_per_synaptic_op_j"]


def test_user_presets_from_toml_and_json(tmp_path):
    presets = load_preset_file(FIXTURES / "user_presets.toml")
    assert presets["mychip"] == CostPreset("mychip", 0.5, 2.0, "test accelerator", "made up for the tests")
    assert presets["tiny"].e_syop_pj == 0.01 and presets["tiny"].e_mac_pj is None
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"schema": "sbn.energy-presets/1", "presets": {"chip2": {"e_mac_pj": 1}}}))
    assert load_preset_file(path)["chip2"].e_mac_pj == 1.0
    assert resolve_preset("tiny", presets).e_syop_pj == 0.01


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown energy preset 'tsmc7'.*45nm, loihi2, rolls"):
        resolve_preset("tsmc7")


@pytest.mark.parametrize(
    "text, message",
    [
        ('schema = "sbn.energy-presets/1"\n[presets.a\n', "not valid TOML"),
        ('[presets.a]\ne_syop_pj = 1\n', "key 'schema' is None; this sbn reads energy presets"),
        (
            'schema = "sbn.energy-presets/2"\n[presets.a]\ne_syop_pj = 1\n',
            "key 'schema' is 'sbn.energy-presets/2'",
        ),
        ('schema = "sbn.energy-presets/1"\n', r"no \[presets.<name>\] tables"),
        ('schema = "sbn.energy-presets/1"\n[presets.a]\ne_syop_pj = -1\n', "must be > 0 pJ"),
        ('schema = "sbn.energy-presets/1"\n[presets.a]\ne_syop_pj = "fast"\n', "must be a number"),
        ('schema = "sbn.energy-presets/1"\n[presets.a]\ne_sop = 1\n', "unknown field 'e_sop'"),
        ('schema = "sbn.energy-presets/1"\n[presets.a]\nsource = "x"\n', "prices nothing"),
        ('schema = "sbn.energy-presets/1"\n[presets.Big-Chip]\ne_syop_pj = 1\n', "lower-case"),
        ('schema = "sbn.energy-presets/1"\n[presets.rolls]\ne_syop_pj = 1\n', "shadow a built-in"),
        ('schema = "sbn.energy-presets/1"\npresets = {a = 3}\n', "must be a table"),
    ],
)
def test_malformed_preset_files(tmp_path, text, message):
    path = tmp_path / "presets.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_preset_file(path)
    assert str(path) in str(info.value)


def test_missing_and_non_json_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read energy presets"):
        load_preset_file(tmp_path / "nope.toml")
    (tmp_path / "p.json").write_text("schema = 1")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_preset_file(tmp_path / "p.json")
