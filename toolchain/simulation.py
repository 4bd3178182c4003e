"""Accuracy in Lava on many samples: chunks of samples, each in its own Lava runtime,
fanned out over Ray workers (or run here), merged into one report.

    source = SimSource.resolve(Path("runs/sbn"))           # an `sbn export` folder or .nir files
    report = simulate_dataset(source, images, labels, checkpoint=ckpt, workers=4)

This is the toolchain's side of simulation: the Lava backend (``sbn.targets.lava``) only
simulates graphs; choosing samples, fanning out, cross-checking and merging live here.

Each chunk compares Lava with the reference executor (float64: the device's payload and
the edge's outputs on the payload it received must be identical; where they are not, the
largest difference says whether it is rounding: Lava's Conv adds the same products in
another order than the executor's GEMM, which shows where a convolution's sum reaches an
Output unthresholded, as the portable profile's head does) and, given a checkpoint,
with the PyTorch model in float64. The payload crosses a ``sbn.wire.Link`` (codec + channel,
seeded per sample); every codec's size is measured on the same payloads. A chunk whose worker fails is
retried (``retries``); if it still fails its samples are listed under ``failed`` with the
error, and the merged figures cover the samples that ran: nothing is silently dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nir
import numpy as np

from sbn import __version__
from sbn import checkpoint as ckpt_io
from sbn.distributed import fan_out
from sbn.errors import ConfigError, SimulationError
from sbn.graph import execute
from sbn.graph.input_checks import check_image_input as check_image_input  # importable from here too
from sbn.graph.input_checks import check_split_shapes
from sbn.graph.manifest_read import output_size, read_manifest
from sbn.targets.lava.simulate import load_graph, simulate
from sbn.targets.lava.split import encode, simulate_split
from sbn.wire import CODECS, Link

#: /2: the wire (codec, channel, lost frames, bytes per codec), per-sample "lost" and
#: "codec_bytes", bytes_per_sample {"measured" (mean, chosen codec), "bitmap", "manifest"};
#: later additions within /2: "outputs_max_difference" (per sample, and the largest under
#: agreement), "wire" and "bits_on_the_wire" null for one network, predictions null where
#: the graph's output is no class scores (``drop_predictions``)
SCHEMA = "sbn.sim/2"

#: the largest difference between Lava's outputs and the executor's that is float64 rounding
#: (the same products added in another order: ~1e-15 of the outputs' size), not a
#: different result
ROUNDING = 1e-9


@dataclass(frozen=True)
class SimSource:
    """What to simulate: one graph, or device + edge graphs (with the export's manifest)."""

    first: str
    second: str | None = None
    manifest: dict | None = None
    label: str = ""

    @classmethod
    def resolve(cls, source: Path, edge: Path | None = None) -> SimSource:
        """From an `sbn export` folder (device + edge, else full) or .nir file(s)."""
        if not source.is_dir():
            return cls(str(source), None if edge is None else str(edge), None, str(source))
        mpath = source / "manifest.json"
        if not mpath.is_file():
            raise ConfigError(f"{source}: no manifest.json; give an `sbn export` folder or a .nir file")
        manifest = read_manifest(source, against_graphs=False)  # the caller loads the graphs
        files = manifest.get("files", {})
        if edge is not None:
            raise ConfigError("--edge goes with a device .nir file, not with an export folder")
        if "device" in files and "edge" in files:
            return cls(str(source / files["device"]), str(source / files["edge"]), manifest, str(source))
        return cls(str(source / files.get("full", "full.nir")), None, manifest, str(source))

    @property
    def expected_bytes(self) -> int | None:
        if self.manifest is None or self.manifest.get("bits_per_sample") is None:
            return None
        return -(-int(self.manifest["bits_per_sample"]) // 8)


def drop_predictions(report: dict[str, Any]) -> None:
    """Null, in place, what a ``simulate_dataset`` report says about class predictions, for
    a graph whose Output is no class scores (a device graph's payload): the argmax of a
    payload predicts nothing. Outputs and payloads stay compared with the executor."""
    for row in report["results"]:
        row["prediction"] = row["executor"] = row["pytorch"] = None
    report["accuracy"] = report["pytorch_accuracy"] = None
    report["agreement"]["executor_predictions"] = report["agreement"]["pytorch_predictions"] = None


@dataclass(frozen=True)
class Chunk:
    """One worker's share: plain data, so it pickles to a Ray worker cheaply."""

    source: SimSource
    start: int  # index of the first sample in the whole evaluation
    images: np.ndarray  # [n, C, H, W] float64
    time_steps: int
    fuse: str
    batch_size: int
    checkpoint: str | None
    wire: dict[str, Any]  # Link.named's arguments: codec, channel, seed


def run_chunk(chunk: Chunk) -> dict[str, Any]:
    """Lava, the executor and (optionally) PyTorch on one chunk; per-sample rows."""
    run = _run_split(chunk) if chunk.source.second is not None else _run_single(chunk)
    n = chunk.images.shape[0]
    logits = run.outputs.mean(axis=0).reshape(n, -1)
    ref_logits = run.reference.mean(axis=0).reshape(n, -1)
    torch_preds = _torch_predictions(chunk.checkpoint, chunk.images) if chunk.checkpoint else None
    rows = [
        {
            "index": chunk.start + i,
            "prediction": int(logits[i].argmax()),
            "executor": int(ref_logits[i].argmax()),
            "pytorch": None if torch_preds is None else int(torch_preds[i]),
            "outputs_identical": bool(np.array_equal(run.outputs[:, i], run.reference[:, i])),
            "outputs_max_difference": float(np.abs(run.outputs[:, i] - run.reference[:, i]).max(initial=0.0)),
            **(run.payload[i] if run.payload is not None else NO_PAYLOAD),
        }
        for i in range(n)
    ]
    return {
        "rows": rows,
        "wall_s": run.wall,
        "processes": run.processes,
        "latency_steps": run.latency,
        "spike_sums": run.spike_sums,
    }


#: a row's figures of the payload, null for one network (nothing crosses a wire)
NO_PAYLOAD = dict.fromkeys(("payload_identical", "bytes", "lost", "codec_bytes", "payload_firing_rate"))


@dataclass(frozen=True)
class _ChunkRun:
    """One chunk in Lava and in the reference executor, before it becomes rows."""

    outputs: np.ndarray  # Lava's Output [T, n, ...]
    reference: np.ndarray  # the executor's, on the input that Lava's last graph received
    wall: float  # seconds in Lava (with the payload's coding, for a split)
    processes: dict[str, Any]
    latency: dict[str, int]
    spike_sums: dict[str, list[float]]
    payload: list[dict[str, Any]] | None = None  # per sample, NO_PAYLOAD's keys; None: one network


def _run_split(chunk: Chunk) -> _ChunkRun:
    """Device -> link -> edge in Lava; the executor on the same images (the device) and on
    the payload the Lava edge received (the edge)."""
    src, images, t = chunk.source, chunk.images, chunk.time_steps
    n = images.shape[0]
    device, edge = load_graph(src.first), load_graph(src.second)
    t0 = time.perf_counter()
    run = simulate_split(
        device,
        edge,
        images,
        time_steps=t,
        fuse=chunk.fuse,
        batch_size=chunk.batch_size,
        link=Link.named(**chunk.wire),
        first_index=chunk.start,
    )
    spikes = run.sent_spikes
    payload_rate = [float(spikes[:, i].mean()) for i in range(n)]
    codec_bytes = [{name: len(c.encode(spikes[:, i])) for name, c in CODECS.items()} for i in range(n)]
    wall = time.perf_counter() - t0
    ref_device = _only(execute(device, encode(images, t)).outputs, src.first)
    ref_edge = _only(execute(edge, run.payload_spikes).outputs, src.second)
    payload = [
        {
            "payload_identical": bool(np.array_equal(spikes[:, i], ref_device[:, i])),
            "bytes": int(run.bytes_per_sample[i]),
            "lost": run.lost[i],
            "codec_bytes": codec_bytes[i],
            "payload_firing_rate": payload_rate[i],
        }
        for i in range(n)
    ]
    return _ChunkRun(
        outputs=run.outputs,
        reference=ref_edge,
        wall=wall,
        processes={"device": run.device.processes, "edge": run.edge.processes},
        latency={"device": max(run.device.latency.values()), "edge": max(run.edge.latency.values())},
        spike_sums={**_spike_sums(run.device, "device"), **_spike_sums(run.edge, "edge")},
        payload=payload,
    )


def _run_single(chunk: Chunk) -> _ChunkRun:
    """One graph in Lava and in the executor, on the same images."""
    graph, where = load_graph(chunk.source.first), chunk.source.first
    t0 = time.perf_counter()
    single = simulate(
        graph, encode(chunk.images, chunk.time_steps), fuse=chunk.fuse, batch_size=chunk.batch_size
    )
    wall = time.perf_counter() - t0
    return _ChunkRun(
        outputs=_only(single.outputs, where),
        reference=_only(execute(graph, encode(chunk.images, chunk.time_steps)).outputs, where),
        wall=wall,
        processes={"graph": single.processes},
        latency={"graph": max(single.latency.values())},
        spike_sums=_spike_sums(single, "graph"),
    )


def _spike_sums(run, part: str) -> dict[str, list[float]]:
    """Spiking node -> [spikes, slots] counted in Lava over this chunk (merged over chunks
    into firing rates)."""
    return {f"{part}:{name}": [float(count), float(run.slots[name])] for name, count in run.spikes.items()}


def simulate_dataset(
    source: SimSource,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    time_steps: int,
    checkpoint: str | None = None,
    fuse: str = "block",
    batch_size: int = 16,
    workers: int = 0,
    address: str | None = None,
    retries: int = 1,
    dataset: str = "",
    on_chunk: Callable[[int, int], None] | None = None,
    chunk_size: int | None = None,
    codec: str = "bitmap",
    channel: str = "none",
    seed: int = 0,
    class_scores: bool = True,
) -> dict[str, Any]:
    """Simulate every image and merge the chunks into one ``sbn.sim/2`` report.

    workers 0 runs the chunks here one after the other; K >= 1 runs K at a time on Ray
    (``address`` for an existing cluster). ``on_chunk(done, total)`` follows progress.
    The payload is coded with ``codec`` and crosses ``channel`` (a SPEC, seeded by ``seed``).
    ``class_scores`` False: the last graph's Output is no class scores (``outputs_classes``),
    so the report has no predictions (``drop_predictions``).
    """
    link = Link.named(codec, channel, seed)  # bad names and specs: refused before any work
    if source.second is not None:
        check_split_shapes(source.first, source.second)

    images = np.asarray(images, dtype=np.float64)
    labels = np.asarray(labels)
    n = images.shape[0]
    if n < 1:
        raise ConfigError("no samples to simulate")
    size = chunk_size or (batch_size if workers == 0 else max(1, min(batch_size, -(-n // max(workers, 1)))))
    wire = {"codec": codec, "channel": channel, "seed": seed}
    chunks = [
        Chunk(source, lo, images[lo : lo + size], time_steps, fuse, batch_size, checkpoint, wire)
        for lo in range(0, n, size)
    ]
    done = [0]

    def progress(_outcome) -> None:
        done[0] += 1
        if on_chunk:
            on_chunk(done[0], len(chunks))

    if on_chunk:
        on_chunk(0, len(chunks))
    start = time.perf_counter()
    outcomes = fan_out(
        run_chunk, chunks, workers=workers, address=address, retries=retries, on_result=progress
    )
    wall = time.perf_counter() - start
    merged = _Merged.collect(chunks, outcomes, labels)
    expected = source.expected_bytes
    if expected is not None and merged.bitmap_bytes and merged.bitmap_bytes != [expected]:
        raise SimulationError(
            f"measured {merged.bitmap_bytes} bitmap bytes per sample, the manifest says {expected}"
        )
    report = _report(
        source, merged, wall, dataset=dataset, samples=n, time_steps=time_steps, fuse=fuse, workers=workers
    )
    # one network: nothing crosses a wire (its bytes are null as well)
    report["wire"] = _wire_summary(link, merged.rows) if source.second is not None else None
    report["firing_rates"] = merged.firing_rates()
    if not class_scores:
        drop_predictions(report)
    return report


def outputs_classes(last_graph: nir.NIRGraph, num_classes: int) -> int | None:
    """None where a run's last graph outputs ``num_classes`` class scores per sample (or
    states no size); else how many values it outputs (a device graph's payload)."""
    size = output_size(last_graph)
    return None if size is None or size == num_classes else size


def rounding_difference(report: dict[str, Any]) -> float | None:
    """The largest difference between Lava's outputs and the executor's where it is only
    float64 rounding (``ROUNDING``); None where they are identical or differ by more."""
    a = report["agreement"]
    difference = a["executor_outputs_max_difference"]
    return difference if a["executor_outputs_identical"] is False and difference <= ROUNDING else None


@dataclass
class _Merged:
    """The chunks' outcomes gathered: rows of the samples that ran (labelled), the chunks
    that failed, and the spikes counted per node."""

    rows: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    processes: dict[str, Any]
    latency: dict[str, int]
    spike_sums: dict[str, list[float]]

    @classmethod
    def collect(cls, chunks: list[Chunk], outcomes, labels: np.ndarray) -> _Merged:
        merged = cls([], [], {}, {}, {})
        for chunk, outcome in zip(chunks, outcomes):
            if outcome.ok:
                merged.rows.extend(outcome.value["rows"])
                for node, (count, slots) in outcome.value["spike_sums"].items():
                    total = merged.spike_sums.setdefault(node, [0.0, 0.0])
                    total[0] += count
                    total[1] += slots
                # every chunk runs the same graphs: any one's processes and latency are the run's
                merged.processes, merged.latency = outcome.value["processes"], outcome.value["latency_steps"]
            else:
                merged.failed.append(
                    {
                        "samples": [chunk.start, chunk.start + len(chunk.images) - 1],
                        "error": outcome.error,
                        "attempts": outcome.attempts,
                    }
                )
        for row in merged.rows:
            row["label"] = int(labels[row["index"]])
        return merged

    @property
    def bitmap_bytes(self) -> list[int]:
        """The bitmap's bytes per sample measured, each value once (one value when all agree)."""
        return sorted({r["codec_bytes"]["bitmap"] for r in self.rows if r["codec_bytes"] is not None})

    def firing_rates(self) -> dict[str, float]:
        return {node: count / slots for node, (count, slots) in self.spike_sums.items() if slots}


def _wire_summary(link, rows) -> dict[str, Any]:
    """The link, its lost frames, and every codec's bytes per sample on the same payloads."""
    sized = [r["codec_bytes"] for r in rows if r["codec_bytes"] is not None]
    per_codec = {
        name: {
            "mean": float(np.mean([s[name] for s in sized])),
            "min": min(s[name] for s in sized),
            "max": max(s[name] for s in sized),
        }
        for name in (sized[0] if sized else {})
    }
    return {
        **link.describe(),
        "error_rate": link.channel.error_rate,
        "lost_frames": sum(bool(r["lost"]) for r in rows),
        "bytes_per_sample": per_codec,
    }


def _report(
    source: SimSource,
    merged: _Merged,
    wall: float,
    *,
    dataset: str,
    samples: int,
    time_steps: int,
    fuse: str,
    workers: int,
) -> dict[str, Any]:
    """The run's settings, and its figures over the samples that ran."""
    rows, bitmap = merged.rows, merged.bitmap_bytes

    def share(key_a: str, key_b: str) -> float | None:
        pairs = [(r[key_a], r[key_b]) for r in rows if r[key_b] is not None]
        return float(np.mean([a == b for a, b in pairs])) if pairs else None

    def all_true(key: str) -> bool | None:
        values = [r[key] for r in rows if r[key] is not None]
        return bool(all(values)) if values else None

    rates = [r["payload_firing_rate"] for r in rows if r["payload_firing_rate"] is not None]
    return {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "source": source.label,
        "graphs": (
            {"device": source.first, "edge": source.second} if source.second else {"full": source.first}
        ),
        "dataset": dataset,
        "samples": samples,
        "simulated": len(rows),
        "failed": merged.failed,
        "time_steps": time_steps,
        "fuse": fuse,
        "workers": workers,
        "processes": merged.processes,
        "latency_steps": merged.latency,
        "accuracy": float(np.mean([r["prediction"] == r["label"] for r in rows])) if rows else None,
        "agreement": {
            "executor_outputs_identical": all_true("outputs_identical"),
            "executor_outputs_max_difference": (
                max(r["outputs_max_difference"] for r in rows) if rows else None
            ),
            "executor_predictions": share("prediction", "executor"),
            "pytorch_predictions": share("prediction", "pytorch"),
            "payload_identical_to_executor": all_true("payload_identical"),
        },
        "pytorch_accuracy": (
            float(np.mean([r["pytorch"] == r["label"] for r in rows]))
            if rows and rows[0]["pytorch"] is not None
            else None
        ),
        "bytes_per_sample": {
            "measured": (
                float(np.mean([r["bytes"] for r in rows if r["bytes"] is not None])) if bitmap else None
            ),
            "bitmap": bitmap[-1] if bitmap else None,
            "manifest": source.expected_bytes,
        },
        "bits_on_the_wire": (
            sum(8 * r["bytes"] for r in rows if r["bytes"] is not None) if source.second else None
        ),
        "payload_firing_rate": float(np.mean(rates)) if rates else None,
        "wall_s": wall,
        "wall_s_per_sample": wall / max(len(rows), 1),
        "results": sorted(rows, key=lambda r: r["index"]),
    }


def _only(outputs: dict[str, np.ndarray], where: str) -> np.ndarray:
    if len(outputs) != 1:
        raise SimulationError(f"{where}: expected one Output node, found {sorted(outputs)}")
    return next(iter(outputs.values()))


def _torch_predictions(path: str, images: np.ndarray) -> np.ndarray:
    import torch

    model = ckpt_io.load(path).build().double()  # float64, as the executor: no rounding flips
    with torch.no_grad():
        logits = model(torch.from_numpy(images))
    return logits.numpy().argmax(axis=1)
