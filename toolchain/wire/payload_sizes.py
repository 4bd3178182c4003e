"""Measured bytes per sample of every codec on real payloads, per split point: the file
``sbn channel --payloads-out`` and ``examples/benchmarks/bench_wire.py`` write and
``sbn bits --payloads`` reads (schema ``sbn.payload-bytes/1``)::

    {"schema": "sbn.payload-bytes/1", "producer": "sbn 0.1.0", "source": "...",
     "rows": [{"split": "RB7", "payload_shape": [8, 16, 16], "time_steps": 2, "samples": 359,
               "firing_rate": 0.11, "bytes_per_sample": {"bitmap": 512.0, "aer": 498.3, ...}}]}
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


def measure_row(split: str, sent: np.ndarray) -> dict[str, Any]:
    """Every codec's mean bytes per sample on ``sent`` [T, B, C', H', W'] (binary spikes)."""
    sizes = {
        name: float(np.mean([len(codec.encode(sent[:, b])) for b in range(sent.shape[1])]))
        for name, codec in CODECS.items()
    }
    return _row(split, sent.shape, float(sent.mean()), sizes)


def row_from_channel_report(split: str, report: dict[str, Any]) -> dict[str, Any]:
    """The same row from an ``sbn.channel/1`` report (its codecs measured their sizes)."""
    t, *shape = report["payload_shape"]
    return _row(
        split,
        (t, report["samples"], *shape),
        report["payload_firing_rate"],
        {name: c["bytes_per_sample"]["mean"] for name, c in report["codecs"].items()},
    )


def _row(split: str, shape: tuple[int, ...], firing_rate: float, sizes: dict[str, float]) -> dict[str, Any]:
    return {
        "split": split,
        "payload_shape": [int(d) for d in shape[2:]],
        "time_steps": int(shape[0]),
        "samples": int(shape[1]),
        "firing_rate": firing_rate,
        "bytes_per_sample": sizes,
    }


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
            }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: malformed measured payload bytes ({exc!r})") from None
    return rows


def measured_for(rows, path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """split -> codec -> mean bytes from the file at ``path``, for the bits table's ``rows``
    (``sbn.models.Payload``). A measurement at a split of the table must be of the same payload
    shape and T; splits the table does not list are left out."""
    measured = read_payload_bytes(path)
    matched = {}
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
        matched[p.split] = m["bytes_per_sample"]
    if not matched:
        raise ConfigError(f"{path}: measures {', '.join(measured) or 'no split'}, none of the table's splits")
    return matched
