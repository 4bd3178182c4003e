"""What is known of a dataset without loading it, and whether it fits a model."""

import pytest

from sbn.data import DATASETS, check_fits, class_count, default_augment, load_dataset
from sbn.data.cifar import RELEASES
from sbn.errors import ConfigError, DataError
from sbn.models import ModelConfig


def test_class_counts_are_those_the_loaders_give():
    assert class_count("digits") == load_dataset("digits").num_classes == 10
    assert {name: class_count(name) for name in RELEASES} == {"cifar10": 10, "cifar100": 100}
    with pytest.raises(DataError, match="unknown dataset 'mnist': choose one of digits, cifar10, cifar100"):
        class_count("mnist")


def test_augmentation_is_on_by_default_for_cifar_only():
    assert {name: default_augment(name) for name in DATASETS} == {
        "digits": False,
        "cifar10": True,
        "cifar100": True,
    }


def test_a_dataset_that_does_not_fit_is_named_with_both_shapes_or_class_counts():
    config = ModelConfig(num_classes=100, width=0.0625, layers=(1, 1, 1, 1), image_size=16)
    assert config.input_shape == (3, 16, 16)
    check_fits(config, "cifar100", (3, 16, 16), 100)
    check_fits(config, "digits", [3, 16, 16])  # no class count given: the head is not checked
    with pytest.raises(ConfigError, match="^digits images are 3x32x32 but the backbone expects 3x16x16$"):
        check_fits(config, "digits", (3, 32, 32), 10, model="the backbone")
    with pytest.raises(ConfigError, match="^digits has 10 classes but the model has 100$"):
        check_fits(config, "digits", (3, 16, 16), 10)
