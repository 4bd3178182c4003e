"""Dataset name -> loader, and what is known of each set without loading it."""

from __future__ import annotations

from pathlib import Path

from sbn.data.base import ImageDataset
from sbn.data.cifar import RELEASES, download, load_cifar
from sbn.data.digits import NUM_CLASSES as DIGITS_CLASSES
from sbn.data.digits import load_digits
from sbn.errors import DataError

DATASETS = ("digits", "cifar10", "cifar100")


def load_dataset(
    name: str, *, root: str | Path | None = None, train: bool = False, download_missing: bool = False
) -> ImageDataset:
    """Load ``name``'s train or test split. ``digits`` needs nothing; CIFAR needs ``root``."""
    if name == "digits":
        return load_digits(train)
    if name in RELEASES:
        if download_missing:
            if root is None:
                raise DataError(f"--download needs --data-dir: where to put {name}")
            download(RELEASES[name], root)
        return load_cifar(RELEASES[name], root, train)
    raise _unknown(name)


def class_count(name: str) -> int:
    """How many classes ``name`` has (the head a model trained on it needs)."""
    if name == "digits":
        return DIGITS_CLASSES
    if name in RELEASES:
        return RELEASES[name].num_classes
    raise _unknown(name)


def default_augment(name: str) -> bool:
    """Whether training on ``name`` augments (``sbn.data.augment``) unless told otherwise:
    on for the CIFAR sets, whose standard training uses the crop and flip; off for digits."""
    return name != "digits"


def _unknown(name: str) -> DataError:
    return DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
