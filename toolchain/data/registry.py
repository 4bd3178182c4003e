"""Dataset name -> loader."""

from __future__ import annotations

from pathlib import Path

from sbn.data.base import ImageDataset
from sbn.data.cifar import RELEASES, download, load_cifar
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
    raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
