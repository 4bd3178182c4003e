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
from types import SimpleNamespace
from typing import Any

import nir
import numpy as np

from sbn import __version__
from sbn import checkpoint as ckpt_io
from sbn.distributed import fan_out
from sbn.errors import ConfigError, SimulationError
from sbn.graph import execute
from sbn.graph.manifest_read import read_manifest
from sbn.graph.schedule import schedule
from sbn.graph.shapes import infer_shapes
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
    dev_sched, edge_sched = schedule(load_graph(device)), schedule(load_graph(edge))
    if len(dev_sched.outputs) != 1:
        raise ConfigError(
            f"{labels[0]}: a device graph must have exactly one Output node (what it sends), "
            f"has {len(dev_sched.outputs)}: {', '.join(dev_sched.outputs) or 'none'}"
        )
    if len(edge_sched.inputs) != 1:
        raise ConfigError(
            f"{labels[1]}: an edge graph must have exactly one Input node (what it receives), "
            f"has {len(edge_sched.inputs)}: {', '.join(edge_sched.inputs) or 'none'}"
        )
    out = dev_sched.outputs[0]
    sent = infer_shapes(SimpleNamespace(nodes=dev_sched.nodes, edges=dev_sched.edges))[out]
    name = edge_sched.inputs[0]
    declared = (edge_sched.nodes[name].input_type or {}).get("input")
    if declared is None:
        return  # an Input of no stated shape takes what arrives (as check_inputs does)
    want = tuple(int(d) for d in np.atleast_1d(declared))
    if tuple(sent) != want:
        raise ConfigError(
            f"the edge graph {labels[1]} reads {list(want)} per sample and step (Input {name!r}), "
            f"the device graph {labels[0]} sends {list(sent)} (Output {out!r}); give the edge "
            f"graph exported with this device graph"
        )


def check_image_input(
    graph: nir.NIRGraph | str | Path, image_shape: tuple[int, ...], label: str, dataset: str
) -> None:
    """ConfigError, before anything runs, unless ``graph`` (``label``), the first graph of a
    run on ``dataset``'s images, has one Input node that takes such an image per step (an
    edge graph reads a payload, not images)."""
    sched = schedule(load_graph(graph))
    if len(sched.inputs) != 1:
        raise ConfigError(
            f"{label}: a graph run on images must have exactly one Input node, has "
            f"{len(sched.inputs)}: {', '.join(sched.inputs) or 'none'}; run it on given streams with --input"
        )
    name = sched.inputs[0]
    declared = (sched.nodes[name].input_type or {}).get("input")
    if declared is None:
        return  # an Input of no stated shape takes what arrives
    want = [int(d) for d in np.atleast_1d(declared)]
    if want != list(image_shape):
        raise ConfigError(
            f"{label} reads {want} per sample and step (Input {name!r}), {dataset} images are "
            f"{list(image_shape)}: give the graph that takes the images (device.nir or full.nir "
            "of the export), or run this one on given streams with --input"
        )


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
    src, images, t = chunk.source, chunk.images, chunk.time_steps
    n = images.shape[0]
    g1 = load_graph(src.first)
    wire: list[int] | None = None
    payload_rate = lost = codec_bytes = None
    t0 = time.perf_counter()
    if src.second is not None:
        g2 = load_graph(src.second)
        run = simulate_split(
            g1,
            g2,
            images,
            time_steps=t,
            fuse=chunk.fuse,
            batch_size=chunk.batch_size,
            link=Link.named(**chunk.wire),
            first_index=chunk.start,
        )
        outputs, wire, lost = run.outputs, run.bytes_per_sample, run.lost
        spikes = run.sent_spikes
        payload_rate = [float(spikes[:, i].mean()) for i in range(n)]
        codec_bytes = [{name: len(c.encode(spikes[:, i])) for name, c in CODECS.items()} for i in range(n)]
        processes = {"device": run.device.processes, "edge": run.edge.processes}
        latency = {"device": max(run.device.latency.values()), "edge": max(run.edge.latency.values())}
        wall = time.perf_counter() - t0
        dev_exec = execute(g1, encode(images, t))
        ref_dev = _only(dev_exec.outputs, src.first)
        edge_exec = execute(g2, run.payload_spikes)  # what the Lava edge received
        ref = _only(edge_exec.outputs, src.second)
        spike_sums = {**_spike_sums(run.device, "device"), **_spike_sums(run.edge, "edge")}
        payload_identical = [bool(np.array_equal(spikes[:, i], ref_dev[:, i])) for i in range(n)]
    else:
        single = simulate(g1, encode(images, t), fuse=chunk.fuse, batch_size=chunk.batch_size)
        outputs = _only(single.outputs, src.first)
        processes, latency = {"graph": single.processes}, {"graph": max(single.latency.values())}
        wall = time.perf_counter() - t0
        full_exec = execute(g1, encode(images, t))
        ref = _only(full_exec.outputs, src.first)
        spike_sums = _spike_sums(single, "graph")
        payload_identical = None
    logits = outputs.mean(axis=0).reshape(n, -1)
    ref_logits = ref.mean(axis=0).reshape(n, -1)
    torch_preds = _torch_predictions(chunk.checkpoint, images) if chunk.checkpoint else None
    rows = []
    for i in range(n):
        rows.append(
            {
                "index": chunk.start + i,
                "prediction": int(logits[i].argmax()),
                "executor": int(ref_logits[i].argmax()),
                "pytorch": None if torch_preds is None else int(torch_preds[i]),
                "outputs_identical": bool(np.array_equal(outputs[:, i], ref[:, i])),
                "outputs_max_difference": float(np.abs(outputs[:, i] - ref[:, i]).max(initial=0.0)),
                "payload_identical": None if payload_identical is None else payload_identical[i],
                "bytes": None if wire is None else int(wire[i]),
                "lost": None if lost is None else lost[i],
                "codec_bytes": None if codec_bytes is None else codec_bytes[i],
                "payload_firing_rate": None if payload_rate is None else payload_rate[i],
            }
        )
    return {
        "rows": rows,
        "wall_s": wall,
        "processes": processes,
        "latency_steps": latency,
        "spike_sums": spike_sums,
    }


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
) -> dict[str, Any]:
    """Simulate every image and merge the chunks into one ``sbn.sim/2`` report.

    workers 0 runs the chunks here one after the other; K >= 1 runs K at a time on Ray
    (``address`` for an existing cluster). ``on_chunk(done, total)`` follows progress.
    The payload is coded with ``codec`` and crosses ``channel`` (a SPEC, seeded by ``seed``).
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
    chunks = [
        Chunk(
            source,
            lo,
            images[lo : lo + size],
            time_steps,
            fuse,
            batch_size,
            checkpoint,
            {"codec": codec, "channel": channel, "seed": seed},
        )
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
    rows, failed, processes, latency = [], [], {}, {}
    spikes: dict[str, list[float]] = {}
    for chunk, outcome in zip(chunks, outcomes):
        if outcome.ok:
            rows.extend(outcome.value["rows"])
            for node, (count, slots) in outcome.value["spike_sums"].items():
                total = spikes.setdefault(node, [0.0, 0.0])
                total[0] += count
                total[1] += slots
            processes, latency = outcome.value["processes"], outcome.value["latency_steps"]
        else:
            failed.append(
                {
                    "samples": [chunk.start, chunk.start + len(chunk.images) - 1],
                    "error": outcome.error,
                    "attempts": outcome.attempts,
                }
            )
    for row in rows:
        row["label"] = int(labels[row["index"]])
    expected = source.expected_bytes
    bitmap = sorted({r["codec_bytes"]["bitmap"] for r in rows if r["codec_bytes"] is not None})
    if expected is not None and bitmap and bitmap != [expected]:
        raise SimulationError(f"measured {bitmap} bitmap bytes per sample, the manifest says {expected}")
    report = _merge(
        source,
        rows,
        failed,
        n,
        time_steps,
        fuse,
        workers,
        processes,
        latency,
        wall,
        dataset,
        expected,
        bitmap,
        __version__,
    )
    # one network: nothing crosses a wire (its bytes are null as well)
    report["wire"] = _wire_summary(link, rows) if source.second is not None else None
    report["firing_rates"] = {node: count / slots for node, (count, slots) in spikes.items() if slots}
    return report


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


def _merge(
    source, rows, failed, n, t, fuse, workers, processes, latency, wall, dataset, expected, bitmap, version
) -> dict[str, Any]:
    def share(key_a: str, key_b: str) -> float | None:
        pairs = [(r[key_a], r[key_b]) for r in rows if r[key_b] is not None]
        return float(np.mean([a == b for a, b in pairs])) if pairs else None

    def all_true(key: str) -> bool | None:
        values = [r[key] for r in rows if r[key] is not None]
        return bool(all(values)) if values else None

    rates = [r["payload_firing_rate"] for r in rows if r["payload_firing_rate"] is not None]
    return {
        "schema": SCHEMA,
        "producer": f"sbn {version}",
        "source": source.label,
        "graphs": (
            {"device": source.first, "edge": source.second} if source.second else {"full": source.first}
        ),
        "dataset": dataset,
        "samples": n,
        "simulated": len(rows),
        "failed": failed,
        "time_steps": t,
        "fuse": fuse,
        "workers": workers,
        "processes": processes,
        "latency_steps": latency,
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
            "manifest": expected,
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
