"""manifest.json of an export folder: what was cut where and what crosses the network.

Schema ``sbn.manifest/1``::

    schema, producer, tool_version, nir_version, arch
    checkpoint        {"file": name, "sha256": hex}
    files             {"full": "full.nir", "device": ..., "edge": ...} (device/edge if split)
    split, cut_node   "RB7", "encoder.lif" (null without a split)
    input_shape       [C, H, W] of one image (fed at each of the T steps)
    time_steps, num_classes
    payload_shape     [T, C', H', W']: the spikes one sample sends
    raw_shape         [T, C, H, W]: the split block's output it replaces
    bits_per_sample, raw_bits, compression_ratio, bytes_per_sample
    profile           "sbn" (exact, dt = 1) or "portable" (sbn.graph.portable)
    dt, conventions   how to step the graphs (sbn.graph.conventions)
    node_metadata     portable profile only: node -> the metadata the graphs leave out
"""

from __future__ import annotations

from typing import Any

import nir

from sbn import __version__
from sbn.graph import conventions as cv
from sbn.graph import portable
from sbn.models import ModelConfig, payload, split_label

SCHEMA = "sbn.manifest/1"


def build_manifest(
    config: ModelConfig,
    checkpoint_name: str,
    sha256: str,
    files: dict[str, str],
    split: int | None,
    cut_node: str | None,
    profile: str = "sbn",
    node_metadata: dict[str, dict] | None = None,
) -> dict[str, Any]:
    t = config.time_steps
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "tool_version": __version__,
        "nir_version": nir.version,
        "arch": config.arch,
        "checkpoint": {"file": checkpoint_name, "sha256": sha256},
        "files": files,
        "split": None,
        "cut_node": None,
        "input_shape": [config.in_channels, config.image_size, config.image_size],
        "time_steps": t,
        "num_classes": config.num_classes,
        "profile": profile,
    }
    if split is not None:
        if config.bottleneck is not None:
            p = payload(config)
            sent, raw = p.payload_shape, p.raw_shape
        else:  # a backbone cut at a block: the block's spikes cross uncompressed
            sent = raw = config.block_shape(split)
        bits = t * sent[0] * sent[1] * sent[2]
        raw_bits = t * raw[0] * raw[1] * raw[2]
        manifest.update(
            {
                "split": split_label(split),
                "cut_node": cut_node,
                "payload_shape": [t, *sent],
                "raw_shape": [t, *raw],
                "bits_per_sample": bits,
                "raw_bits": raw_bits,
                "compression_ratio": raw_bits / bits,
                "bytes_per_sample": -(-bits // 8),
            }
        )
    is_portable = profile == "portable"
    manifest["dt"] = portable.PORTABLE_DT if is_portable else cv.EXPORT_DT
    manifest["conventions"] = {
        "integration": cv.INTEGRATION,
        "threshold": portable.THRESHOLD_RULE if is_portable else cv.THRESHOLD_RULE,
        "reset": cv.RESET_RULE,
        "input_encoding": cv.INPUT_ENCODING,
        "readout": cv.READOUT,
        "lif_decay": config.lif.decay,
        "lif_v_th": config.lif.v_th,
    }
    if is_portable:
        manifest["node_metadata"] = node_metadata or {}
    return manifest
