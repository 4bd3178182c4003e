"""The bits table: what crosses the network at each split point, for chosen bottlenecks.

The arithmetic is ``sbn.models.accounting`` (shapes from the config alone)::

    raw spiking bits   = C * H * W * T
    SpikeBottleNet     = C' * H' * W' * T        (H' = H / s)
    BottleNet++        = C' * H' * W' * 8
    compression ratio  = raw / SpikeBottleNet;  reduction vs baseline = 1 - SNN / BottleNet++

This module picks the rows (one choice, the same C'/stride at every split, or a
per-split file) and renders them (JSON ``sbn.bits/2``, CSV, markdown), with the bytes per
sample each payload codec measured on real payloads where given (``measured``: split ->
codec -> mean bytes, from ``sbn.wire.payload_sizes``). A bits-config
file (TOML or JSON)::

    schema = "sbn.bits-config/1"
    [model]                      # all optional: arch, width, time_steps, num_classes
    arch = "resnet50"
    time_steps = 4
    [[splits]]
    split = "RB16"
    channels = 32
    stride = 2                   # optional, default 1
    time_steps = 2               # optional per-row T
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sbn import __version__
from sbn.energy.tables import csv_text, markdown_table
from sbn.errors import ConfigError
from sbn.fileio import check_version, read_document, write_text
from sbn.models import BottleneckConfig, ModelConfig, Payload, parse_split, payload

#: /2: every row has "measured_bytes_per_sample" ({codec: mean bytes}, {} when not measured)
SCHEMA = "sbn.bits/2"
CONFIG_SCHEMA = "sbn.bits-config/1"
ARCHS = ("resnet50",)
_MODEL_KEYS = {"arch", "width", "time_steps", "num_classes"}
_ROW_KEYS = {"split", "channels", "stride", "time_steps"}


def arch_config(
    arch: str = "resnet50", *, width: float = 1.0, time_steps: int = 4, num_classes: int = 100
) -> ModelConfig:
    """The spiking model config ``arch`` names (only the CIFAR ResNet50 for now)."""
    if arch not in ARCHS:
        raise ConfigError(f"unknown architecture {arch!r}: known are {', '.join(ARCHS)}")
    return ModelConfig(kind="spiking", width=width, time_steps=time_steps, num_classes=num_classes)


def bits_row(
    config: ModelConfig, split: str | int, channels: int, stride: int = 1, time_steps: int | None = None
) -> Payload:
    """The payload of one bottleneck (C' = ``channels``, stride ``stride``) after ``split``."""
    block = parse_split(split, config.num_blocks)
    if time_steps is not None:
        config = replace(config, time_steps=time_steps)
    return payload(config, BottleneckConfig(block, channels, stride))


def uniform_table(config: ModelConfig, channels: int, stride: int = 1) -> tuple[Payload, ...]:
    """The same C' and stride after every RB1..RBn."""
    return tuple(bits_row(config, k, channels, stride) for k in range(1, config.num_blocks + 1))


def load_bits_config(path: str | os.PathLike) -> tuple[ModelConfig, tuple[Payload, ...]]:
    """The model and one row per ``[[splits]]`` entry of a bits-config file."""
    return parse_bits_config(read_document(path, CONFIG_SCHEMA, "a bits config"), where=str(path))


def parse_bits_config(data: Any, where: str = "bits config") -> tuple[ModelConfig, tuple[Payload, ...]]:
    check_version(dict(data) if isinstance(data, Mapping) else data, CONFIG_SCHEMA, where, "a bits config")
    model = data.get("model", {})
    rows = data.get("splits")
    if not isinstance(model, Mapping) or set(model) - _MODEL_KEYS:
        raise ConfigError(f"{where}: [model] may hold only {', '.join(sorted(_MODEL_KEYS))}")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{where}: no [[splits]] entries")
    try:
        config = arch_config(**model)
        table = []
        for i, row in enumerate(rows, 1):
            fields = set(row) if isinstance(row, Mapping) else set()
            if fields - _ROW_KEYS or not {"split", "channels"} <= fields:
                raise ConfigError(f"splits entry {i} needs split and channels (optional: stride, time_steps)")
            table.append(
                bits_row(config, row["split"], row["channels"], row.get("stride", 1), row.get("time_steps"))
            )
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return config, tuple(table)


# ---- rendering ----------------------------------------------------------------------
HEADER = (
    "split",
    "raw_shape",
    "payload_shape",
    "time_steps",
    "raw_bits",
    "spikebottlenet_bits",
    "bottlenet_pp_bits",
    "compression_ratio",
    "reduction_vs_baseline_pct",
    "bytes_per_sample",
)


#: split -> codec -> mean bytes per sample measured on real payloads
Measured = Mapping[str, Mapping[str, float]]


def row_dict(p: Payload, measured: Measured | None = None) -> dict[str, Any]:
    return {
        "split": p.split,
        "raw_shape": list(p.raw_shape),
        "payload_shape": list(p.payload_shape),
        "channels": p.payload_shape[0],
        "stride": p.raw_shape[1] // p.payload_shape[1],
        "time_steps": p.time_steps,
        "raw_bits": p.raw_bits,
        "spikebottlenet_bits": p.spiking_bits,
        "bottlenet_pp_bits": p.baseline_bits,
        "compression_ratio": p.compression_ratio,
        "reduction_vs_baseline_pct": p.reduction_vs_baseline,
        "bytes_per_sample": p.bytes_per_sample,
        "measured_bytes_per_sample": dict((measured or {}).get(p.split, {})),
    }


def to_dict(
    payloads: Sequence[Payload], model: Mapping[str, Any] | None = None, measured: Measured | None = None
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "model": dict(model or {}),
        "rows": [row_dict(p, measured) for p in payloads],
    }


def from_dict(data: Mapping[str, Any], where: str = "bits table") -> tuple[Payload, ...]:
    if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, Mapping) else None
        raise ConfigError(f"{where}: schema {found!r} is not supported (this sbn reads {SCHEMA!r})")
    try:
        return tuple(
            Payload(
                split=r["split"],
                raw_shape=tuple(r["raw_shape"]),
                payload_shape=tuple(r["payload_shape"]),
                time_steps=r["time_steps"],
            )
            for r in data["rows"]
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{where}: malformed bits table ({exc})") from None


def measured_codecs(measured: Measured | None) -> list[str]:
    """The codecs measured at any split, in first-seen order."""
    return list(dict.fromkeys(c for sizes in (measured or {}).values() for c in sizes))


def flat_rows(payloads: Sequence[Payload], measured: Measured | None = None) -> list[list[Any]]:
    rows = []
    for p in payloads:
        d = row_dict(p)
        d["raw_shape"] = "x".join(map(str, p.raw_shape))
        d["payload_shape"] = "x".join(map(str, p.payload_shape))
        sizes = (measured or {}).get(p.split, {})
        rows.append([d[k] for k in HEADER] + [sizes.get(c) for c in measured_codecs(measured)])
    return rows


def render(
    payloads: Sequence[Payload],
    fmt: str,
    model: Mapping[str, Any] | None = None,
    measured: Measured | None = None,
) -> str:
    provenance = f"{SCHEMA}; produced by sbn {__version__}; bits per sample"
    header = HEADER + tuple(f"measured_{c}_bytes" for c in measured_codecs(measured))
    if fmt == "json":
        return json.dumps(to_dict(payloads, model, measured), indent=2) + "\n"
    if fmt == "csv":
        return csv_text(provenance, header, flat_rows(payloads, measured))
    if fmt == "md":
        return f"<!-- {provenance} -->\n\n" + markdown_table(header, flat_rows(payloads, measured))
    raise ConfigError(f"unknown bits format {fmt!r}: choose one of json, csv, md")


def write_bits(
    path: str | os.PathLike,
    payloads: Sequence[Payload],
    fmt: str = "json",
    model: Mapping[str, Any] | None = None,
    measured: Measured | None = None,
) -> None:
    write_text(path, render(payloads, fmt, model, measured))
