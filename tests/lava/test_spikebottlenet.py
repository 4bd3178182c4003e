"""A reduced-width SpikeBottleNet in Lava: every block type, split at two different RBs,
device and edge as two Lava networks with the payload packed to bits in between."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sbn.graph import execute, export_nir, partition
from sbn.targets.lava import encode, make_plan, simulate, simulate_split
from sbn.targets.lava.runtime import lava_children


@pytest.mark.parametrize("split", ["RB2", "RB4"])
def test_backbone_split_at_two_blocks_equals_executor(small_backbone, small_config, images, split):
    """RB1: stride-1 projection; RB2, RB4, RB5: stride-2 projections; RB3: identity."""
    graph = export_nir(small_backbone)
    device, edge = partition(graph, split)
    ref = execute(graph, encode(images, 4)).outputs
    (name,) = ref
    run = simulate_split(device, edge, images)
    np.testing.assert_array_equal(run.outputs, ref[name])
    # the readout: mean over T of the per-step logits
    np.testing.assert_array_equal(run.logits, ref[name].mean(axis=0))
    # the block's spikes cross uncompressed: T * C * H * W bits per sample
    c, h, w = small_config.block_shape(int(split[2:]))
    assert run.payload_shape == (4, c, h, w)
    assert run.bytes_per_sample == [math.ceil(4 * c * h * w / 8)] * len(images)
    assert not lava_children()


def test_spikebottlenet_export_folder_bytes_equal_manifest(export_dir, images):
    manifest = json.loads((export_dir / "manifest.json").read_text())
    run = simulate_split(export_dir / "device.nir", export_dir / "edge.nir", images)
    assert list(run.payload_shape) == manifest["payload_shape"]
    assert run.bytes_per_sample == [math.ceil(manifest["bits_per_sample"] / 8)] * len(images)
    full = execute(export_nir_from(export_dir), encode(images, manifest["time_steps"])).outputs
    np.testing.assert_array_equal(run.outputs, next(iter(full.values())))
    # what crossed is the encoder's spikes, and it is not all silence
    assert 0 < run.payload_spikes.mean() < 1


def export_nir_from(folder):
    from sbn.graph.io import load_nir

    return load_nir(folder / "full.nir")


def test_node_mode_aligns_the_shortcuts_of_a_whole_network(small_sbn, images):
    """One Lava process per NIR node: every residual block needs its shortcut delayed, and
    the result is still the executor's exactly."""
    graph = export_nir(small_sbn)
    plan = make_plan(graph, fuse="node")
    delayed = {hop.source for _, hop in plan.aligned_hops}
    assert len(delayed) >= 5  # one per residual block (identity and projection shortcuts)
    x = encode(images[:1], 2)
    ref = execute(graph, x).outputs
    run = simulate(graph, x, fuse="node", plan=plan)
    for name in ref:
        np.testing.assert_array_equal(run.outputs[name], ref[name])
    assert run.processes == len(graph.nodes)
