"""Tiling and placement: hand-computed core counts, utilisation, overflow messages, speed."""

import math
import time

import pytest

from sbn.errors import MappingError
from sbn.targets.groups import network_from_nir, read_network
from sbn.targets.placement import place, placement_order, tile_sizes
from sbn.targets.registry import get_target

# the toy target: 100 neurons and 10,000 synapses per core, 4 cores per chip


def test_tile_sizes_are_balanced():
    assert tile_sizes(250, 100).tolist() == [84, 83, 83]
    assert tile_sizes(200, 100).tolist() == [100, 100]
    assert tile_sizes(7, 100).tolist() == [7]


def test_dense_layers_core_and_chip_counts(nirb, make_target):
    net = network_from_nir(nirb.dense_chain([50, 1000, 30]))
    p = place(net, make_target(chips=4))
    l1, l2 = p.group("l1"), p.group("l2")
    # l1: 1000 neurons, fan-in 50 -> 100 per core (both limits) -> 10 tiles on cores 0..9
    assert (l1.tile_capacity, l1.tiles, l1.tile_cores) == (100, 10, tuple(range(10)))
    # l2: fan-in 1000 -> 10 neurons per core (10,000 synapses) -> 3 tiles on fresh cores
    assert (l2.tile_capacity, l2.tile_sizes, l2.tile_cores) == (10, (10, 10, 10), (10, 11, 12))
    assert p.cores_used == 13 and p.chips_used == 4
    assert [c.chip for c in p.cores] == [0] * 4 + [1] * 4 + [2] * 4 + [3]
    assert p.cores[9].neurons == 100 and p.cores[9].synapses == 5000
    assert p.cores[10].neurons == 10 and p.cores[10].synapses == 10_000
    assert l2.synaptic_memory == 30_000 and l2.group.synapses == 30_000


def test_small_groups_share_a_core(nirb, make_target):
    p = place(network_from_nir(nirb.dense_chain([5, 30, 40, 50])), make_target())
    # next fit: l1 (30) + l2 (40) on core 0; l3 (50) would make 120 > 100 -> core 1
    assert [(c.neurons, c.synapses, c.groups) for c in p.cores] == [
        (70, 30 * 5 + 40 * 30, ("l1", "l2")),
        (50, 50 * 40, ("l3",)),
    ]


def test_too_many_cores_names_node_and_overflow(nirb, make_target):
    net = network_from_nir(nirb.dense_chain([50, 1000, 30]))
    with pytest.raises(MappingError) as info:
        place(net, make_target(chips=1))
    msg = str(info.value)
    assert msg.startswith("node l1: does not fit toy (1 chip(s) x 4 cores = 4)")
    assert "needs 10 cores up to here" in msg
    assert "needs 13 cores (4 chip(s)), over by 9 cores; try --chips 4" in msg


def test_fan_in_beyond_core_memory(nirb, make_target):
    net = network_from_nir(nirb.dense_chain([20_000, 2]))
    with pytest.raises(
        MappingError,
        match=(
            r"^node l1 \(fed by l1.fc\): one neuron needs 20000 synapses \(fan-in 20000\), "
            r"more than the 10000 a toy core holds, by 10000$"
        ),
    ):
        place(net, make_target())


def test_fan_in_limit(nirb, make_target):
    net = network_from_nir(nirb.dense_chain([101, 2]))
    with pytest.raises(
        MappingError,
        match=(
            r"^node l1 \(fed by l1.fc\): fan-in of 101 synapses per neuron exceeds the 100 "
            r"a toy neuron accepts by 1$"
        ),
    ):
        place(net, make_target(max_fan_in=100))
    assert place(net, make_target(max_fan_in=101)).cores_used == 1


def test_fan_out_limit(nirb, make_target):
    net = network_from_nir(nirb.dense_chain([4, 10, 20]))
    # each l1 neuron drives all 20 neurons of l2
    with pytest.raises(
        MappingError, match=r"^node l1: fan-out of 20 synapses per neuron exceeds the 15 .* by 5$"
    ):
        place(net, make_target(max_fan_out=15))
    assert place(net, make_target(max_fan_out=20)).group("l1").fan_out == 20


def test_sinabs_cnn_on_rolls_refused_by_name(nirb):
    net = read_network(nirb.fixtures / "cnn_sinabs.nir")
    with pytest.raises(
        MappingError, match=r"^node 6 \(fed by 5\): fan-in of 576 .* 512 a rolls neuron accepts by 64$"
    ):
        place(net, get_target("rolls"))


def test_sinabs_cnn_on_loihi2(nirb):
    p = place(read_network(nirb.fixtures / "cnn_sinabs.nir"), get_target("loihi2"))
    # IF 1 and IF 3 (4096 neurons each) fill core 0; conv kernels are shared: 16 channels x 50
    # and 16 x 144 weights. IF 6 (512) joins core 1, IF 10 needs 512 x 256 = 131,072 weights:
    # a full core; IF 12 the next one.
    assert [(c.neurons, c.synapses, c.groups) for c in p.cores] == [
        (8192, 16 * 50 + 16 * 144, ("1", "3")),
        (512, 8 * 576, ("6",)),
        (256, 131_072, ("10",)),
        (10, 2560, ("12",)),
    ]


def test_braille_rnn_fits_one_rolls_core(nirb):
    p = place(read_network(nirb.fixtures / "braille_noDelay_noBias_subtract.nir"), get_target("rolls"))
    assert p.cores_used == 1 and p.cores[0].neurons == 47
    assert p.cores[0].synapses == 40 * (40 + 12) + 7 * 40
    assert placement_order(p.network) == ["lif1.lif", "lif2"]


def test_resnet50_on_loihi2(resnet50):
    start = time.perf_counter()
    net = network_from_nir(resnet50)
    p = place(net, get_target("loihi2").with_chips(4))
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"placement took {elapsed:.1f} s"
    assert max(g.neurons for g in net.groups) == 262_144
    # the stem: 64x32x32 neurons, 8192 per core -> 8 tiles
    assert p.group("stem.lif").tiles == 8
    # stage-4 3x3 conv: fan-in 512 x 9 = 4608, kernels shared; 28 channels' kernels fill a
    # core (28 x 4608 = 129,024 <= 131,072), and k neurons of a 4x4 map touch ceil(k/16)+1
    # channels -> k <= 432 -> ceil(8192 / 432) = 19 tiles
    g = p.group("s4b1.lif2")
    assert (g.group.fan_in, g.tile_capacity, g.tiles) == (4608, 432, 19)
    # last block output: conv3 (512) + identity (1) per channel = 513 -> 255 channels ->
    # k <= 254 x 16 = 4064 -> 9 tiles of 32,768 neurons
    g = p.group("s4b3.lif3")
    assert (g.group.fan_in, g.tile_capacity, g.tiles) == (513, 4064, 9)
    t = p.target
    assert all(c.neurons <= t.neurons_per_core and c.synapses <= t.synapses_per_core for c in p.cores)
    assert sum(c.neurons for c in p.cores) == sum(g.neurons for g in net.groups)
    assert p.cores_used == sum(gp.tiles for gp in p.groups) == 509 and p.chips_used == 4


def test_resnet50_overflows_one_loihi2_chip(resnet50):
    net = network_from_nir(resnet50)
    # stem 8 + s1b1 (8 + 8 + 32) + s1b2 48 + s1b3 (8 + 8) = 120 cores, then s1b3.lif3 adds 32
    with pytest.raises(
        MappingError,
        match=r"^node s1b3.lif3: .* needs 152 cores up to here.* over by 381 cores; try --chips 4$",
    ):
        place(net, get_target("loihi2"))


def test_placement_is_pure(nirb, make_target):
    net = network_from_nir(nirb.dense_chain([50, 1000, 30]))
    t = make_target(chips=4)
    assert place(net, t) == place(net, t)
    assert math.prod(net.group("l1").shape) == 1000  # the input network is untouched
