"""MAC counts from the model's real shapes against hand-computed fixtures."""

import json
import math
from pathlib import Path

import pytest
import torch

from sbn.energy import Layer, LayerTable, config_layer_table, layer_table
from sbn.errors import ConfigError
from sbn.models import BottleneckConfig, ModelConfig, build_model

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "resnet50_macs.json").read_text())


@pytest.fixture(scope="module")
def full_table():
    return config_layer_table(ModelConfig())


def _product(text: str) -> int:
    return math.prod(int(f) for f in text.split("*"))


def _evaluate(text: str) -> int:
    """'a + 2 * b + c' -> integer (sums of products, nothing else)."""
    return sum(_product(term) for term in text.split("+"))


def test_fixture_arithmetic_is_self_consistent(reference):
    for entry in reference["layers"] + reference["blocks"] + reference["cumulative"]:
        assert _evaluate(entry["arithmetic"]) == entry["macs"], entry
    running = 0
    cumulative = {e["split"]: e["macs"] for e in reference["cumulative"]}
    for block in reference["blocks"]:
        running += block["macs"]
        if block["split"] in cumulative:
            assert cumulative[block["split"]] == running


def test_layer_macs_match_hand_computed(full_table, reference):
    by_name = {layer.name: layer for layer in full_table.layers}
    for entry in reference["layers"]:
        assert by_name[entry["name"]].macs == entry["macs"], entry["name"]


def test_block_and_cumulative_macs_match_hand_computed(full_table, reference):
    for k, entry in enumerate(reference["blocks"], 1):
        own = sum(layer.macs for layer in full_table.layers if layer.block == k)
        assert own == entry["macs"], entry["split"]
    for entry in reference["cumulative"]:
        assert full_table.macs_upto(int(entry["split"][2:])) == entry["macs"]


def test_only_the_three_block_convolutions_are_counted(full_table):
    assert len(full_table.layers) == 16 * 3
    assert full_table.num_blocks == 16
    assert all(layer.name.rsplit(".", 1)[-1] in ("conv1", "conv2", "conv3") for layer in full_table.layers)
    assert not any("downsample" in n or "stem" in n or "enc" in n for n in full_table.names)


def test_shapes_are_the_real_ones(full_table):
    rb4 = [layer for layer in full_table.layers if layer.block == 4]
    assert [layer.in_shape for layer in rb4] == [(256, 32, 32), (128, 32, 32), (128, 16, 16)]
    assert rb4[-1].out_shape == (512, 16, 16)
    assert rb4[1].kernel == (3, 3)
    assert rb4[0].in_neurons == 256 * 32 * 32
    assert rb4[0].label == "RB4.conv1"


def test_meta_shape_pass_equals_a_real_model_and_a_split_model():
    config = ModelConfig(width=0.125, num_classes=10)
    real = layer_table(build_model(config))
    assert real == config_layer_table(config)
    with torch.device("meta"):
        split = build_model(config.with_bottleneck(BottleneckConfig(5, 8)))
    assert layer_table(split).layers == real.layers  # the encoder is not counted


def test_width_half_quarters_every_count(full_table):
    half = config_layer_table(ModelConfig(width=0.5))
    assert half.macs_upto(16) * 4 == full_table.macs_upto(16) == 1178599424


def test_layer_table_validation():
    layer = Layer("blocks.0.conv1", 1, (4, 8, 8), (4, 8, 8), (1, 1))
    with pytest.raises(ConfigError, match="twice"):
        LayerTable((layer, layer), num_blocks=1, time_steps=4)
    table = LayerTable((layer,), num_blocks=1, time_steps=4)
    with pytest.raises(ConfigError, match="RB2 does not exist"):
        table.upto(2)


def test_layer_table_refuses_other_models():
    with pytest.raises(ConfigError, match="not Linear"):
        layer_table(torch.nn.Linear(2, 2))


def test_shape_pass_leaves_a_training_model_untouched():
    model = build_model(ModelConfig(width=1 / 16, num_classes=10)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layer_table(model)
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
