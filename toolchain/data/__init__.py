"""Datasets as plain tensors: pixels ``[N, 3, 32, 32]`` (uint8 or float32 in [0, 1]), labels int64.

``digits`` (scikit-learn's bundled handwritten digits) needs no download and is the default;
``cifar10`` and ``cifar100`` read the standard python-release folders. ``class_count`` and
``default_augment`` say what is known of a set without loading it; ``check_fits``, whether a
set's images and classes fit a model.
"""

from __future__ import annotations

from sbn.data.base import ImageDataset
from sbn.data.fit import check_fits
from sbn.data.registry import DATASETS, class_count, default_augment, load_dataset

__all__ = ["DATASETS", "ImageDataset", "check_fits", "class_count", "default_augment", "load_dataset"]
