"""Checks, before anything runs, that a graph's one Input takes what it will be given: the
edge graph what the device graph sends, the first graph of a run the dataset's images.

A ``ConfigError`` names both sides and the Input node; an Input of no stated shape takes
what arrives (as ``sbn.graph.schedule.check_inputs`` does when the run starts).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nir
import numpy as np

from sbn.errors import ConfigError
from sbn.graph.io import load_nir
from sbn.graph.schedule import Schedule, schedule
from sbn.graph.shapes import infer_shapes


def check_split_shapes(
    device: nir.NIRGraph | str | Path, edge: nir.NIRGraph | str | Path, names: tuple[str, str] | None = None
) -> None:
    """ConfigError, before anything runs, unless the edge graph reads what the device graph
    sends: the device's one Output gives [T, B, *shape] per step (its shape as the Lava
    planner and the executor infer it), the edge's one Input must declare that same shape
    (``sbn.graph.schedule.check_inputs``, which the edge run applies to the payload)."""
    labels = names or (
        str(device) if not isinstance(device, nir.NIRGraph) else "the device graph",
        str(edge) if not isinstance(edge, nir.NIRGraph) else "the edge graph",
    )
    dev_sched, edge_sched = schedule(_graph(device)), schedule(_graph(edge))
    out = _only_one(
        dev_sched.outputs,
        f"{labels[0]}: a device graph must have exactly one Output node (what it sends)",
    )
    name, declared = _declared_input(
        edge_sched, f"{labels[1]}: an edge graph must have exactly one Input node (what it receives)"
    )
    sent = infer_shapes(SimpleNamespace(nodes=dev_sched.nodes, edges=dev_sched.edges))[out]
    if declared is not None and tuple(sent) != declared:
        raise ConfigError(
            f"the edge graph {labels[1]} reads {list(declared)} per sample and step (Input {name!r}), "
            f"the device graph {labels[0]} sends {list(sent)} (Output {out!r}); give the edge "
            f"graph exported with this device graph"
        )


def check_image_input(
    graph: nir.NIRGraph | str | Path, image_shape: tuple[int, ...], label: str, dataset: str
) -> None:
    """ConfigError, before anything runs, unless ``graph`` (``label``), the first graph of a
    run on ``dataset``'s images, has one Input node that takes such an image per step (an
    edge graph reads a payload, not images)."""
    name, declared = _declared_input(
        schedule(_graph(graph)),
        f"{label}: a graph run on images must have exactly one Input node",
        "; run it on given streams with --input",
    )
    if declared is not None and declared != tuple(image_shape):
        raise ConfigError(
            f"{label} reads {list(declared)} per sample and step (Input {name!r}), {dataset} images are "
            f"{list(image_shape)}: give the graph that takes the images (device.nir or full.nir "
            "of the export), or run this one on given streams with --input"
        )


def _graph(graph: nir.NIRGraph | str | Path) -> nir.NIRGraph:
    return graph if isinstance(graph, nir.NIRGraph) else load_nir(Path(graph))


def _declared_input(sched: Schedule, requirement: str, hint: str = "") -> tuple[str, tuple[int, ...] | None]:
    """The graph's one Input node and the shape it declares per sample and step (None: it
    states none); ConfigError, saying ``requirement`` (then ``hint``), unless there is one."""
    name = _only_one(sched.inputs, requirement, hint)
    declared = (sched.nodes[name].input_type or {}).get("input")
    return name, None if declared is None else tuple(int(d) for d in np.atleast_1d(declared))


def _only_one(names: list[str], requirement: str, hint: str = "") -> str:
    if len(names) != 1:
        raise ConfigError(f"{requirement}, has {len(names)}: {', '.join(names) or 'none'}{hint}")
    return names[0]
