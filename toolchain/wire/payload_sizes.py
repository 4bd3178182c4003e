"""Measured bytes per sample of every codec on real payloads, per split point: the file
``sbn channel --payloads-out`` and ``examples/benchmarks/bench_wire.py`` write and
``sbn bits --payloads`` reads (schema ``sbn.payload-bytes/1``)::

    {"schema": "sbn.payload-bytes/1", "producer": "sbn 0.1.0", "source": "...",
     "rows": [{"split": "RB7", "payload_shape": [8, 16, 16], "time_steps": 2, "samples": 359,
               "firing_rate": 0.11, "bytes_per_sample": {"bitmap": 512.0, "aer": 498.3, ...},
               "raw_shape": [32, 16, 16]}]}

``raw_shape`` (C, H, W: the split block's output the payload replaces) is optional: it says
which model width the payloads came from, which C'xH'xW' and T alone do not (a width-1/16
model sends the same 16x16x16 payload as the full one). No schema bump: readers that
predate it ignore it, and files without it are read as before (``sbn bits`` then notes
that it cannot check the model).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from sbn import __version__
from sbn.errors import ConfigError
from sbn.fileio import read_document, write_json
from sbn.models.config import parse_split, split_label
from sbn.wire.codecs import CODECS

SCHEMA = "sbn.payload-bytes/1"


def measure_row(split: str, sent: np.ndarray, raw_shape=None) -> dict[str, Any]:
    """Every codec's mean bytes per sample on ``sent`` [T, B, C', H', W'] (binary spikes);
    ``raw_shape`` (C, H, W) records the model they came from."""
    sizes = {
        name: float(np.mean([len(codec.encode(sent[:, b])) for b in range(sent.shape[1])]))
        for name, codec in CODECS.items()
    }
    return _row(split, sent.shape, float(sent.mean()), sizes, raw_shape)


def row_from_channel_report(split: str, report: dict[str, Any], raw_shape=None) -> dict[str, Any]:
    """The same row from an ``sbn.channel/1`` report (its codecs measured their sizes)."""
    t, *shape = report["payload_shape"]
    return _row(
        split,
        (t, report["samples"], *shape),
        report["payload_firing_rate"],
        {name: c["bytes_per_sample"]["mean"] for name, c in report["codecs"].items()},
        raw_shape,
    )


def _row(
    split: str, shape: tuple[int, ...], firing_rate: float, sizes: dict[str, float], raw_shape=None
) -> dict[str, Any]:
    row = {
        "split": split,
        "payload_shape": [int(d) for d in shape[2:]],
        "time_steps": int(shape[0]),
        "samples": int(shape[1]),
        "firing_rate": firing_rate,
        "bytes_per_sample": sizes,
    }
    if raw_shape is not None:
        row["raw_shape"] = [int(d) for d in raw_shape]
    return row


def write_payload_bytes(path: str | os.PathLike, rows: list[dict[str, Any]], source: str) -> None:
    write_json(path, {"schema": SCHEMA, "producer": f"sbn {__version__}", "source": source, "rows": rows})


def read_payload_bytes(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """split -> row; ConfigError naming the file and what is wrong."""
    data = read_document(path, SCHEMA, "measured payload bytes (`sbn channel --payloads-out`)")
    rows = {}
    try:
        for row in data["rows"]:
            sizes = {str(k): float(v) for k, v in row["bytes_per_sample"].items()}
            rows[split_label(parse_split(row["split"]))] = {
                "payload_shape": tuple(int(d) for d in row["payload_shape"]),
                "time_steps": int(row["time_steps"]),
                "bytes_per_sample": sizes,
                "raw_shape": None
                if row.get("raw_shape") is None
                else tuple(int(d) for d in row["raw_shape"]),
            }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: malformed measured payload bytes ({exc!r})") from None
    return rows


def measured_for(rows, path: str | os.PathLike) -> tuple[dict[str, dict[str, float]], list[str]]:
    """(split -> codec -> mean bytes from the file at ``path``, for the bits table's ``rows``
    (``sbn.models.Payload``); the splits whose model the file does not state). A measurement
    at a split of the table must be of the same payload shape and T, and where the file
    records it, the same raw shape (the model's width); splits the table does not list are
    left out."""
    measured = read_payload_bytes(path)
    matched, unchecked = {}, []
    for p in rows:
        m = measured.get(p.split)
        if m is None:
            continue
        if m["payload_shape"] != tuple(p.payload_shape) or m["time_steps"] != p.time_steps:
            raise ConfigError(
                f"{path}: the payloads measured at {p.split} are {'x'.join(map(str, m['payload_shape']))} "
                f"with T = {m['time_steps']}, the table's row is {'x'.join(map(str, p.payload_shape))} "
                f"with T = {p.time_steps}; give the same --channels, --stride, --T and --width"
            )
        if m["raw_shape"] is None:
            unchecked.append(p.split)
        elif m["raw_shape"] != tuple(p.raw_shape):
            raise ConfigError(
                f"{path}: the payloads measured at {p.split} replace a raw {'x'.join(map(str, m['raw_shape']))} "
                f"feature, the table's row a raw {'x'.join(map(str, p.raw_shape))}: another model width; "
                "give the --width they were measured at"
            )
        matched[p.split] = m["bytes_per_sample"]
    if not matched:
        raise ConfigError(f"{path}: measures {', '.join(measured) or 'no split'}, none of the table's splits")
    return matched, unchecked
