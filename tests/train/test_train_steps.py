"""Which model each step trains, from sbn train's options, before any checkpoint is read."""

import re

import pytest

from sbn.errors import ConfigError
from sbn.train_steps import model_to_train


def test_step_one_builds_a_backbone_with_a_head_for_the_dataset():
    config, start = model_to_train(dataset="cifar100", layers=(1, 1, 1, 1), time_steps=2)
    assert start is None
    assert (config.num_classes, config.width, config.layers, config.time_steps) == (
        100,
        0.0625,
        (1, 1, 1, 1),
        2,
    )
    assert model_to_train(dataset="digits")[0].layers == (3, 4, 6, 3)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"split": "RB1"}, "--split/--channels fine-tune a bottleneck: they need --from BACKBONE"),
        ({"start_from": "b.safetensors"}, "--from (step 2) needs --split RBk and --channels C'"),
        (
            {"start_from": "b.safetensors", "split": "RB1", "channels": 4, "width": 0.5},
            "--width comes from the backbone in step 2; drop it",
        ),
        ({"channel": "bsc:0.01"}, "--channel trains through bit errors on a SpikeBottleNet's spikes"),
    ],
)
def test_an_option_that_does_not_fit_the_step_is_named(options, message):
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        model_to_train(dataset="digits", **options)
