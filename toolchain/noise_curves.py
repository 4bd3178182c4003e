"""Accuracy versus channel error rate, per codec, on the same samples: ``sbn channel``.

The device and edge graphs run in the reference executor (``sbn.graph.execute``, float64),
which Lava reproduces bit for bit (docs/lava.md): the channel acts between the two graphs,
so the sweep needs no Lava and takes seconds, not hours. The device runs once; the edge runs
once on the clean payloads and again only on the samples whose payload the channel changed.
Sample i's frame meets the noise of ``default_rng([seed, i])`` under every codec
(``sbn.wire.link``). Report schema ``sbn.channel/1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import nir
import numpy as np

from sbn import __version__
from sbn.wire.channels import parse_channel
from sbn.wire.codecs import get_codec
from sbn.wire.link import Link

SCHEMA = "sbn.channel/1"
#: the issue's figures: bit-error rates 1e-4, 1e-3, 1e-2 and packet erasure 1 %, 5 %
DEFAULT_CHANNELS = ("bsc:1e-4", "bsc:1e-3", "bsc:1e-2", "erasure:0.01", "erasure:0.05")


def run_graph(graph: nir.NIRGraph, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """The graph's one Output over [T, B, ...] inputs, in batches of ``batch_size`` samples."""
    from sbn.graph import execute

    parts = []
    for lo in range(0, inputs.shape[1], batch_size):
        (out,) = execute(graph, inputs[:, lo : lo + batch_size]).outputs.values()
        parts.append(out)
    return np.concatenate(parts, axis=1)


def predictions(edge: nir.NIRGraph, payload: np.ndarray, batch_size: int) -> np.ndarray:
    out = run_graph(edge, payload, batch_size)
    return out.mean(axis=0).reshape(out.shape[1], -1).argmax(axis=1)


def accuracy_under_noise(
    device: nir.NIRGraph,
    edge: nir.NIRGraph,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    time_steps: int,
    codecs: Sequence[str],
    channels: Sequence[str] = DEFAULT_CHANNELS,
    seed: int = 0,
    batch_size: int = 64,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Accuracy of every (codec, channel) pair on the same samples; ``sbn.channel/1``."""
    from sbn.targets.lava.split import encode

    coders = [get_codec(c) for c in codecs]
    links = [parse_channel(c) for c in channels]  # bad specs refused before any work
    step = on_step or (lambda _: None)
    labels = np.asarray(labels)
    step(f"device graph on {len(labels)} samples")
    sent = run_graph(device, encode(images, time_steps), batch_size)  # [T, B, C', H', W']
    shape, n = (sent.shape[0], *sent.shape[2:]), sent.shape[1]
    step("edge graph on the clean payloads")
    clean = predictions(edge, sent, batch_size)
    results, codec_rows = [], {}
    for codec in coders:
        t0 = time.perf_counter()
        frames = [codec.encode(sent[:, i]) for i in range(n)]
        t1 = time.perf_counter()
        for i in range(n):
            codec.decode(frames[i], shape)
        sizes = [len(f) for f in frames]
        codec_rows[codec.name] = {
            "bytes_per_sample": {"mean": float(np.mean(sizes)), "min": min(sizes), "max": max(sizes)},
            "encode_s_per_sample": (t1 - t0) / n,
            "decode_s_per_sample": (time.perf_counter() - t1) / n,
        }
        for channel in links:
            step(f"{codec.name} over {channel.spec}")
            delivery = Link(codec, channel, seed).deliver(frames, shape)
            received = delivery.received
            preds = clean.copy()
            changed = np.flatnonzero((received != sent).reshape(sent.shape[0], n, -1).any(axis=(0, 2)))
            if changed.size:
                preds[changed] = predictions(edge, received[:, changed], batch_size)
            results.append(
                {
                    "codec": codec.name,
                    "channel": channel.spec,
                    "accuracy": float(np.mean(preds == labels)),
                    "lost_frames": delivery.lost_frames,
                    "frames_changed": int(changed.size),
                    "slot_error_rate": float(np.mean(received != sent)),
                    "agreement_with_clean": float(np.mean(preds == clean)),
                }
            )
    return {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "samples": n,
        "time_steps": time_steps,
        "payload_shape": list(shape),
        "payload_firing_rate": float(sent.mean()),
        "seed": seed,
        "clean_accuracy": float(np.mean(clean == labels)),
        "codecs": codec_rows,
        "channels": [
            {"spec": c.spec, "kind": c.name, "measure": c.measure, "error_rate": c.error_rate} for c in links
        ],
        "results": results,
    }
