"""Target: validation, derived figures, the fits/tile-capacity check, dict round trip."""

import dataclasses

import pytest

from sbn.errors import ConfigError
from sbn.targets.groups import NeuronGroup, Projection
from sbn.targets.spec import TARGET_FORMAT, Target



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
    assert data["format"] == TARGET_FORMAT
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
