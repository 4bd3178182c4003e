"""Target: validation, derived figures, the fits/tile-capacity check, dict round trip."""

import dataclasses
import re

import pytest

from sbn.errors import ConfigError
from sbn.targets.builtin import LOIHI2, ROLLS
from sbn.targets.groups import NeuronGroup, Projection
from sbn.targets.registry import get_target, load_target_file, save_target_file
from sbn.targets.spec import TARGET_SCHEMA, FixedPointFormat, Target


def test_derived_figures(make_target):
    t = make_target(chips=3, cores_per_chip=4, synaptic_memory_bits_per_core=1024, weight_bits=4)
    assert t.cores == 12
    assert t.synapses_per_core == 256
    assert t.with_chips(5).cores == 20
    assert t.with_chips(5).name == "toy" and t.chips == 3  # frozen: a new object


def test_frozen(make_target):
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_target().chips = 2


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("chips", 0, "'chips' must be a positive integer"),
        ("neurons_per_core", 2.5, "'neurons_per_core' must be a positive integer"),
        ("weight_bits", True, "'weight_bits' must be a positive integer"),
        ("max_fan_in", -1, "'max_fan_in' must be a positive integer or absent"),
        ("energy_per_synaptic_op_j", -1.0, "non-negative number of joules"),
        ("energy_per_synaptic_op_j", 77.0, "implausibly large"),
        ("shared_conv_weights", "yes", "must be true or false"),
        ("name", "", "non-empty string"),
    ],
)
def test_validation_names_the_field(field, value, words, make_target):
    with pytest.raises(ConfigError, match=words):
        make_target(**{field: value})


def test_weight_wider_than_memory_rejected(make_target):
    with pytest.raises(ConfigError, match="weight_bits .16. exceeds synaptic_memory_bits_per_core .8."):
        make_target(weight_bits=16, synaptic_memory_bits_per_core=8)


def test_source_for_unknown_field_rejected(make_target):
    with pytest.raises(ConfigError, match="unknown field 'cores'"):
        make_target(sources=(("cores", "a datasheet"),))


def test_dict_round_trip(make_target):
    t = make_target(max_fan_in=64, sources=(("chips", "a board"),))
    data = t.to_dict()
    assert data["schema"] == TARGET_SCHEMA
    assert data["sources"] == {"chips": "a board"}
    assert Target.from_dict(data) == t


def _dense(n, fan_in):
    return NeuronGroup("g", "LIF", (n,), (Projection("src", fan_in, None),))


def _conv(c, h, w, fan_in):
    return NeuronGroup("g", "LIF", (c, h, w), (Projection("src", fan_in, fan_in),))


def test_tile_capacity_dense_is_memory_over_fan_in(make_target):
    t = make_target()  # 100 neurons, 10,000 synapses per core
    assert t.max_tile_neurons(_dense(1000, 100)) == 100  # both limits bind at 100
    assert t.max_tile_neurons(_dense(1000, 300)) == 33  # 10,000 // 300
    assert t.max_tile_neurons(_dense(20, 10)) == 20  # the group is smaller than a core
    assert t.max_tile_neurons(_dense(10, 10_001)) == 0
    assert not t.fits(_dense(10, 10_001))
    assert t.fits(_dense(10, 10_000))


def test_tile_capacity_respects_max_fan_in(make_target):
    t = make_target(max_fan_in=50)
    assert t.fits(_dense(10, 50))
    assert not t.fits(_dense(10, 51))


def test_shared_conv_weights_store_the_kernel_per_channel(make_target):
    g = _conv(16, 10, 10, 500)  # 100 neurons per channel, fan-in 500
    plain = make_target(neurons_per_core=1000)
    shared = make_target(neurons_per_core=1000, shared_conv_weights=True)
    assert plain.tile_synapses(g, 20) == 20 * 500
    assert plain.max_tile_neurons(g) == 20
    # 20 consecutive neurons touch at most min(20, 16, ceil(20/100) + 1) = 2 channels
    assert shared.tile_synapses(g, 20) == 2 * 500
    # k neurons touch ceil(k/100)+1 channels; 20 channels' kernels = 10,000 -> k <= 1900,
    # but the core holds 1000 neurons: 11 channels, 5,500 weights
    assert shared.max_tile_neurons(g) == 1000
    assert shared.tile_synapses(g, 1000) == 11 * 500


# --- fixed-point formats ----------------------------------------------------------------

LOIHI2_FP = dict(
    weight_mant_bits=8,
    weight_exp_min=0,
    weight_exp_max=7,
    state_bits=24,
    decay_bits=12,
    threshold_bits=17,
    threshold_shift=6,
    bias_mant_bits=13,
    bias_exp_max=7,
    accumulator_bits=24,
    max_delay=63,
    input_bits=8,
)


def test_loihi2_fixed_point_figures():
    fp = get_target("loihi2").fixed_point
    assert fp == FixedPointFormat(**LOIHI2_FP)
    assert (fp.weight_mant_min, fp.weight_mant_max) == (-128, 127)
    assert fp.state_max == 2**23
    assert fp.decay_unity == 4096
    assert fp.threshold_max == 131071
    assert (fp.bias_mant_min, fp.bias_mant_max) == (-4096, 4095)
    assert fp.accumulator_max == 2**23 - 1
    assert fp.input_max == 255
    assert "fixed_point" in dict(LOIHI2.sources)
    assert ROLLS.fixed_point is None


def test_fixed_point_matches_lava_bit_accurate_models():
    lif = pytest.importorskip("lava.proc.lif.models")
    m = lif.AbstractPyLifModelFixed
    fp = LOIHI2.fixed_point
    assert m.u.precision == m.v.precision == fp.state_bits
    assert m.du.precision == m.dv.precision == fp.decay_bits
    assert m.bias_mant.precision == fp.bias_mant_bits
    assert 2**m.bias_exp.precision - 1 == fp.bias_exp_max
    assert lif.PyLifModelBitAcc.vth.precision == fp.threshold_bits
    conv = pytest.importorskip("lava.proc.conv.models")
    assert conv.PyConvModelFixed.weight.precision == fp.weight_mant_bits
    dense = pytest.importorskip("lava.proc.dense.models")
    assert 2**dense.PyDelayDenseModelBitAcc.delays.precision - 1 == fp.max_delay


@pytest.mark.parametrize("with_fp", [False, True])
def test_dict_round_trip_fixed_point(with_fp, make_target):
    fp = FixedPointFormat(**LOIHI2_FP) if with_fp else None
    t = make_target(fixed_point=fp, sources=(("fixed_point", "a manual"),) if with_fp else ())
    data = t.to_dict()
    if with_fp:
        assert data["fixed_point"] == LOIHI2_FP  # a plain table
    else:
        assert "fixed_point" not in data  # TOML has no null
    assert Target.from_dict(data) == t


def test_builtin_dict_round_trip():
    for t in (LOIHI2, ROLLS):
        assert Target.from_dict(t.to_dict()) == t


def _toml(data):
    """A minimal TOML writer for a target dict: scalars first, then tables."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return repr(v)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if v is not None and not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def test_toml_file_round_trip_with_fixed_point(tmp_path):
    path = tmp_path / "chip.toml"
    path.write_text(_toml(LOIHI2.to_dict()))
    assert "[fixed_point]" in path.read_text()
    t = load_target_file(path)
    assert t == LOIHI2
    save_target_file(tmp_path / "chip.json", t)
    assert load_target_file(tmp_path / "chip.json") == LOIHI2


def test_toml_file_without_fixed_point(tmp_path):
    path = tmp_path / "rolls.toml"
    path.write_text(_toml(ROLLS.to_dict()))
    assert "fixed_point" not in path.read_text()
    assert load_target_file(path) == ROLLS


@pytest.mark.parametrize(
    "change, words",
    [
        ({"weight_bit": 8}, "unknown fixed_point field 'weight_bit'; known fields are weight_mant_bits, "),
        ({"state_bits": -24}, "'state_bits' must be a positive integer, got -24"),
        ({"decay_bits": 0}, "'decay_bits' must be a positive integer, got 0"),
        ({"max_delay": -1}, "'max_delay' must be a non-negative integer, got -1"),
        ({"input_bits": 8.0}, "'input_bits' must be a positive integer, got 8.0"),
        ({"weight_exp_min": 8}, r"'weight_exp_min' \(8\) exceeds 'weight_exp_max' \(7\)"),
    ],
)
def test_bad_fixed_point_table_names_the_key(change, words, tmp_path):
    data = LOIHI2.to_dict()
    data["fixed_point"] = {**data["fixed_point"], **change}
    with pytest.raises(ConfigError, match=words):
        Target.from_dict(data, origin="chip.toml")
    path = tmp_path / "chip.toml"
    path.write_text(_toml(data))
    with pytest.raises(ConfigError, match=re.escape(f"{path}: ") + ".*" + words):
        load_target_file(path)


def test_fixed_point_table_missing_key_and_not_a_table():
    data = LOIHI2.to_dict()
    del data["fixed_point"]["threshold_shift"]
    with pytest.raises(ConfigError, match="missing fixed_point field 'threshold_shift'"):
        Target.from_dict(data)
    data["fixed_point"] = 8
    with pytest.raises(ConfigError, match="'fixed_point' must be a table"):
        Target.from_dict(data)
    with pytest.raises(ConfigError, match="'fixed_point' must be a FixedPointFormat"):
        dataclasses.replace(LOIHI2, fixed_point={"weight_mant_bits": 8})


def test_fixed_point_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        LOIHI2.fixed_point.state_bits = 16
