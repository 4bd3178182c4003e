"""scikit-learn's bundled handwritten digits, brought to the model's 3x32x32 input.

1,797 8x8 images with 17 grey levels (0..16): scaled to [0, 1], each pixel repeated 4x4
(nearest-neighbour upsampling keeps the strokes crisp, which suits direct spike encoding),
copied to three channels. A fixed, stratified 80/20 split: the same on every machine.
"""

from __future__ import annotations

import numpy as np
import torch

from sbn.data.base import ImageDataset

NUM_CLASSES = 10
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_digits(train: bool) -> ImageDataset:
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # (N, 8, 8), in [0, 1]
    labels = bunch.target.astype(np.int64)
    chosen = _split_indices(labels, train)
    x = torch.from_numpy(images[chosen])
    x = x.repeat_interleave(4, dim=1).repeat_interleave(4, dim=2)  # (N, 32, 32)
    x = x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()  # (N, 3, 32, 32)
    return ImageDataset("digits", x, torch.from_numpy(labels[chosen]), NUM_CLASSES)


def _split_indices(labels: np.ndarray, train: bool) -> np.ndarray:
    rng = np.random.default_rng(SPLIT_SEED)
    picked = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_test = int(round(len(idx) * TEST_FRACTION))
        picked.append(idx[n_test:] if train else idx[:n_test])
    return np.sort(np.concatenate(picked))
