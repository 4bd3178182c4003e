"""Datasets as plain tensors: pixels ``[N, 3, 32, 32]`` (uint8 or float32 in [0, 1]), labels int64.

``digits`` (scikit-learn's bundled handwritten digits) needs no download and is the default;
``cifar10`` and ``cifar100`` read the standard python-release folders.
"""

from __future__ import annotations

from sbn.data.base import ImageDataset
from sbn.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "ImageDataset", "load_dataset"]
