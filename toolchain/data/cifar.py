"""CIFAR-10 / CIFAR-100 from the standard python-release folders.

    <root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    <root>/cifar-100-python/{train, test, meta}

Each batch is a dict with ``data`` (uint8, N x 3072, channel-major 3x32x32) and ``labels``
(CIFAR-10) or ``fine_labels`` (CIFAR-100). ``download`` fetches and checks the official
archive for users with internet access.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sbn.data.base import ImageDataset
from sbn.data.safe_pickle import load_array_pickle
from sbn.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CifarRelease:
    name: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: str
    num_classes: int
    url: str
    md5: str


CIFAR10 = CifarRelease(
    "cifar10",
    "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    ("test_batch",),
    "labels",
    10,
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
)
CIFAR100 = CifarRelease(
    "cifar100",
    "cifar-100-python",
    ("train",),
    ("test",),
    "fine_labels",
    100,
    "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    "eb9058c3a382ffc7106e4002c42a8d85",
)
RELEASES = {r.name: r for r in (CIFAR10, CIFAR100)}


def load_cifar(release: CifarRelease, root: str | Path | None, train: bool) -> ImageDataset:
    if root is None:
        raise DataError(f"{release.name} needs --data-dir: the folder that holds {release.folder}/")
    folder = Path(root) / release.folder
    if not folder.is_dir():
        raise DataError(
            f"{folder}: not found; expected the {release.name} python release folder "
            f"{release.folder}/ under {root}; `sbn train --dataset {release.name} --data-dir {root} "
            f"--download` fetches it (training as it goes), or unpack {release.url} there"
        )
    images, labels = [], []
    for name in release.train_files if train else release.test_files:
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: missing {release.name} batch file {name!r}")
        batch = load_array_pickle(path)
        x, y = _decode_batch(batch, path, release)
        images.append(x)
        labels.append(y)
    x = torch.from_numpy(np.concatenate(images))  # uint8: converted per batch, on the device
    y = torch.from_numpy(np.concatenate(labels))
    return ImageDataset(release.name, x, y, release.num_classes)


def _decode_batch(batch: dict, path: Path, release: CifarRelease) -> tuple[np.ndarray, np.ndarray]:
    if "data" not in batch or release.label_key not in batch:
        found = ", ".join(sorted(map(str, batch))) or "nothing"
        raise DataError(
            f"{path}: expected keys 'data' and '{release.label_key}' of a {release.name} batch, found {found}"
        )
    try:  # nested lists, strings, ragged rows: whatever a damaged file holds
        data = np.asarray(batch["data"])
        labels = np.asarray(batch[release.label_key])
        if labels.size and labels.dtype.kind not in "iu":
            raise TypeError(f"labels of type {labels.dtype}")
        labels = labels.astype(np.int64)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(
            f"{path}: 'data' and '{release.label_key}' must be a uint8 array and whole-number labels ({exc})"
        ) from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {data.shape[0]} images but {labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= release.num_classes):
        raise DataError(
            f"{path}: labels span {labels.min()}..{labels.max()}, but {release.name} has "
            f"{release.num_classes} classes (0..{release.num_classes - 1})"
        )
    return data.reshape(-1, 3, 32, 32), labels


def download(release: CifarRelease, root: str | Path, url: str | None = None, md5: str | None = None) -> Path:
    """Fetch, verify and unpack ``release`` into ``root``; returns the release folder.

    ``url``/``md5`` override the official ones (mirrors, tests).
    """
    root = Path(root)
    folder = root / release.folder
    if folder.is_dir():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    archive = root / Path(url or release.url).name
    log.info("downloading %s to %s", url or release.url, archive)
    try:
        tmp = archive.with_suffix(".part")
        urllib.request.urlretrieve(url or release.url, tmp)
        tmp.replace(archive)
    except OSError as exc:
        raise DataError(f"could not download {release.name} from {url or release.url}: {exc}") from None
    digest = hashlib.md5(archive.read_bytes()).hexdigest()
    if digest != (md5 or release.md5):
        raise DataError(f"{archive}: md5 {digest} does not match the expected {md5 or release.md5}")
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    if not folder.is_dir():
        raise DataError(f"{archive}: the archive did not contain {release.folder}/")
    return folder
