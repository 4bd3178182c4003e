"""Device and edge as two Lava networks, the payload on the wire in between.

``simulate_split(device, edge, images)`` runs device.nir on the images (direct encoding: each
image at every one of the T steps), sends each sample's transmitted spikes over a
``sbn.wire.Link`` (a codec, by default the dense bitmap, and a channel, by default perfect),
counts the bytes, and runs edge.nir on what arrives. The readout is the mean over T of the
edge Output (``sbn.readout`` in the graph metadata).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import nir
import numpy as np

from sbn.errors import SimulationError
from sbn.graph import conventions
from sbn.targets.lava.simulate import LavaRun, load_graph, simulate
from sbn.wire import Link


@dataclass
class SplitRun:
    logits: np.ndarray  # [B, classes]: mean over T of the edge Output
    outputs: np.ndarray  # [T, B, classes]: the edge Output per step
    payload_spikes: np.ndarray  # [T, B, C', H', W'] as received on the edge side
    sent_spikes: np.ndarray  # [T, B, C', H', W'] as the device sent them
    bytes_per_sample: list[int]  # measured: len(coded payload) per sample, as sent
    lost: list[bool]  # per sample: the frame did not decode; the edge got zeros
    payload_shape: tuple[int, ...]  # [T, C', H', W']
    device: LavaRun
    edge: LavaRun

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1)


def time_steps_of(graph: nir.NIRGraph, given: int | None) -> int:
    meta = getattr(graph, "metadata", None) or {}
    if given is not None:
        return int(given)
    if conventions.KEY_TIME_STEPS in meta:
        return int(np.asarray(meta[conventions.KEY_TIME_STEPS]))
    raise SimulationError(f"the graph states no {conventions.KEY_TIME_STEPS}; pass time_steps")


def encode(images: np.ndarray, time_steps: int) -> np.ndarray:
    """Direct encoding: [B, C, H, W] -> [T, B, C, H, W], the image at every step."""
    images = np.asarray(images, dtype=np.float64)
    return np.broadcast_to(images, (time_steps, *images.shape)).copy()


def _single_output(graph: nir.NIRGraph, run: LavaRun, which: str) -> np.ndarray:
    if len(run.outputs) != 1:
        raise SimulationError(
            f"the {which} graph must have exactly one Output node, has {sorted(run.outputs)}"
        )
    return next(iter(run.outputs.values()))


def simulate_split(
    device: nir.NIRGraph | str | os.PathLike,
    edge: nir.NIRGraph | str | os.PathLike,
    images: np.ndarray,
    *,
    time_steps: int | None = None,
    fuse: str = "block",
    batch_size: int = 16,
    link: Link | None = None,
    first_index: int = 0,
) -> SplitRun:
    """Run ``device`` then ``edge`` in Lava on ``images`` [B, C, H, W]; the payload crosses
    ``link`` (default: bitmap, perfect), image b as frame ``first_index + b``."""
    device, edge = load_graph(device), load_graph(edge)
    t = time_steps_of(device, time_steps)
    dev = simulate(device, encode(images, t), fuse=fuse, batch_size=batch_size)
    sent = _single_output(device, dev, "device")  # [T, B, C', H', W']
    delivery = (link or Link.perfect()).send(sent, first_index)
    received = delivery.received
    edge_run = simulate(edge, received, fuse=fuse, batch_size=batch_size)
    out = _single_output(edge, edge_run, "edge")
    return SplitRun(
        logits=out.mean(axis=0).reshape(out.shape[1], -1),
        outputs=out,
        payload_spikes=received,
        sent_spikes=sent,
        bytes_per_sample=delivery.sent_bytes,
        lost=delivery.lost,
        payload_shape=(t, *sent.shape[2:]),
        device=dev,
        edge=edge_run,
    )
