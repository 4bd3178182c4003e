"""What ``sbn sim`` and ``sbn channel`` run on: the source's graphs and the first test images,
each refused in one line, before any run, where a graph cannot read what it would be given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
import nir
import numpy as np

from sbn.data import ImageDataset
from sbn.graph.input_checks import check_image_input, check_split_shapes
from sbn.graph.io import load_nir
from sbn.simulation import SimSource


def load_graphs(src: SimSource) -> tuple[nir.NIRGraph, nir.NIRGraph | None]:
    """The first graph (the device's, or the one graph) and the edge graph (None: one
    graph); an edge graph that cannot read what the device sends is refused."""
    first = load_nir(Path(src.first))
    if src.second is None:
        return first, None
    second = load_nir(Path(src.second))
    check_split_shapes(first, second, (src.first, src.second))
    return first, second


@dataclass(frozen=True)
class FirstImages:
    """The first ``len(labels)`` images of a dataset's test split, as the runs take them."""

    images: np.ndarray  # [n, C, H, W] float64
    labels: np.ndarray  # [n] int64
    num_classes: int


def first_test_images(
    first: nir.NIRGraph, src: SimSource, dataset: str, data_dir: Path | None, samples: int | None
) -> FirstImages:
    """``samples`` (None: all) of ``dataset``'s first test images, with a note where it holds
    fewer; a first graph that does not take such images is refused."""
    from sbn.data import load_dataset  # looked up per call, as every command does (tests replace it)

    data = load_dataset(dataset, root=data_dir, train=False)
    check_image_input(first, tuple(data.images.shape[1:]), src.first, dataset)
    n = _first_samples(data, samples, dataset)
    return FirstImages(data.images[:n].double().numpy(), data.labels[:n].numpy(), data.num_classes)


def _first_samples(data: ImageDataset, samples: int | None, dataset: str) -> int:
    n = len(data.labels) if samples is None else min(samples, len(data.labels))
    if samples is not None and n < samples:
        click.echo(f"note: {dataset} has {n} test images: running {n}, not {samples}", err=True)
    return n
