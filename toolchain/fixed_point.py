"""The device half in a chip's fixed point, on Lava's own processes; the edge half in float.

    report = evaluate_fixed(source, images, labels, target=get_target("loihi2"), time_steps=4)

For each chunk of samples: the device graph runs quantised (``sbn.targets.quantize``) as Lava
``Conv``/``DelaySparse``/``LIFReset`` processes (``sbn.targets.lava.loihi``), its Output
spikes are packed to bits and sent to the edge graph, which runs in Lava in float64 as
``sbn sim`` runs it. The same samples also run through the float device graph (the reference
executor), so the report sets the two side by side: accuracy, prediction agreement, spike
agreement per layer, firing rates. Spike counts and synaptic operations come from the Lava
run (each group's spikes are recorded inside its process), per neuron group and per core of
``sbn map``'s placement, with the energy they cost at the target's figures; and per group how
many neuron-steps' current wrapped (Lava wraps a too-large input into a negative current, so
the report's ``warnings`` name each group where it happened). Schema ``sbn.sim-fixed/1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nir
import numpy as np

from sbn.errors import ConfigError, SimulationError

SCHEMA = "sbn.sim-fixed/1"


def synaptic_events(node: nir.NIRNode, spikes: np.ndarray) -> np.ndarray:
    """Per receiving neuron, the synaptic operations ``spikes`` ([T, B, *in]) cause through
    ``node`` (a Conv2d, or None for an identity edge), summed over T and B: a convolution of
    the non-zero inputs with an all-ones kernel of the node's geometry."""
    active = np.asarray(spikes) != 0
    if node is None:
        return active.sum(axis=(0, 1)).astype(np.int64)
    import torch

    t, b = active.shape[:2]
    x = torch.from_numpy(active.reshape(t * b, *active.shape[2:]).astype(np.float64))
    ones = torch.ones(np.shape(node.weight), dtype=torch.float64)
    groups = int(np.asarray(node.groups))
    pair = lambda v: tuple(int(i) for i in np.broadcast_to(np.asarray(v), (2,)))
    y = torch.nn.functional.conv2d(
        x,
        ones,
        stride=pair(node.stride),
        padding=pair(node.padding),
        dilation=pair(node.dilation),
        groups=groups,
    )
    return np.rint(y.sum(dim=0).numpy()).astype(np.int64)


def _per_core(placement, group: str, per_neuron: np.ndarray) -> dict[int, int]:
    """Split a group's per-neuron counts (channel-major, as placement tiles) over its cores."""
    gp = placement.group(group)
    flat = per_neuron.ravel()
    out: dict[int, int] = {}
    lo = 0
    for size, core in zip(gp.tile_sizes, gp.tile_cores):
        out[core] = out.get(core, 0) + int(flat[lo : lo + size].sum())
        lo += size
    return out


def evaluate_fixed(
    source,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    target,
    time_steps: int,
    quantized=None,
    headroom_bits: int | None = None,
    batch_size: int = 8,
    fuse: str = "block",
    dataset: str = "",
    on_chunk: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Fixed-point device + float edge on every image; one ``sbn.sim-fixed/1`` report."""
    from sbn import __version__
    from sbn.graph import execute
    from sbn.graph.io import load_nir
    from sbn.graph.schedule import flatten_graph
    from sbn.targets import network_from_nir, place
    from sbn.targets.lava.loihi import simulate_fixed, timing
    from sbn.targets.lava.loihi.relays import relay_name, relayed, with_relays
    from sbn.targets.lava.simulate import simulate
    from sbn.targets.lava.split import encode
    from sbn.targets.quantize import HEADROOM_BITS, check_matches, quantize
    from sbn.wire import Link

    if source.second is None:
        raise ConfigError(
            "the fixed-point path runs a device graph: give an `sbn export` folder "
            "with device.nir and edge.nir (or device.nir --edge edge.nir)"
        )
    device, edge = load_nir(Path(source.first)), load_nir(Path(source.second))
    if quantized is None:
        quantized = quantize(
            device, target, headroom_bits=HEADROOM_BITS if headroom_bits is None else headroom_bits
        )
    check_matches(quantized, device)
    if quantized.target != target.name:
        raise ConfigError(f"the quantisation is for target {quantized.target!r}, not {target.name!r}")
    # the relay neurons that align delayed convolutions take cores too: placed with the rest
    delays = timing(quantized).delay
    relays = relayed(quantized, delays)
    placement = place(
        with_relays(network_from_nir(device, name="device"), quantized, delays), target
    )  # MappingError if it does not fit
    images = np.asarray(images, dtype=np.float64)
    labels = np.asarray(labels)
    n = images.shape[0]
    if n < 1:
        raise ConfigError("no samples to simulate")
    nodes, _ = flatten_graph(device)
    groups = list(quantized.neurons)
    agree = {g: [0, 0] for g in groups}
    spikes = {g: 0 for g in groups}
    float_spikes = {g: 0 for g in groups}
    slots = {g: 0 for g in groups}
    syops_group = {g: 0 for g in groups}
    u_wraps = {g: 0 for g in groups}
    syops_core: dict[int, int] = {}
    syops_relay: dict[str, int] = {}  # relayed projection -> synaptic ops into its relay
    rows, wire_bytes, payload_rate = [], [], []
    wall_device = wall_edge = 0.0
    run = None
    chunks = list(range(0, n, batch_size))
    if on_chunk:
        on_chunk(0, len(chunks))
    start = time.perf_counter()
    for done, lo in enumerate(chunks, 1):
        x = images[lo : lo + batch_size]
        b = x.shape[0]
        run = simulate_fixed(device, quantized, x, time_steps=time_steps)
        wall_device += run.wall_s
        ref_dev = execute(device, encode(x, time_steps), record=True)
        for g in groups:
            fixed, flt = run.spikes[g], ref_dev.trace[g]
            agree[g][0] += int((fixed == flt).sum())
            agree[g][1] += fixed.size
            spikes[g] += int(fixed.sum())
            float_spikes[g] += int(np.asarray(flt).sum())
            slots[g] += fixed.size
            u_wraps[g] += run.u_wraps[g]
        in_spikes = {name: encode(x, time_steps) for name in quantized.inputs}
        for p in quantized.projections.values():
            src = run.spikes[p.source] if p.source in run.spikes else in_spikes[p.source]
            per_neuron = synaptic_events(nodes[p.name] if p.kind == "conv" else None, src)
            syops_group[p.target] += int(per_neuron.sum())
            for core, count in _per_core(placement, p.target, per_neuron).items():
                syops_core[core] = syops_core.get(core, 0) + count
            if p.name in relays:  # one identity synapse per spike into the relay neurons
                relay_events = synaptic_events(None, src)
                syops_relay[p.name] = syops_relay.get(p.name, 0) + int(relay_events.sum())
                for core, count in _per_core(placement, relay_name(p.name), relay_events).items():
                    syops_core[core] = syops_core.get(core, 0) + count
        (sent,) = run.outputs.values()  # [T, B, C', H', W'] spikes
        delivery = Link.perfect().send(sent, lo)  # the dense bitmap, no noise
        received = delivery.received
        t1 = time.perf_counter()
        edge_run = simulate(edge, received, fuse=fuse)
        wall_edge += time.perf_counter() - t1
        (out,) = edge_run.outputs.values()
        logits = out.mean(axis=0).reshape(b, -1)
        (ref_sent,) = ref_dev.outputs.values()
        (ref_out,) = execute(edge, ref_sent).outputs.values()
        ref_logits = ref_out.mean(axis=0).reshape(b, -1)
        for i in range(b):
            rows.append(
                {
                    "index": lo + i,
                    "label": int(labels[lo + i]),
                    "fixed": int(logits[i].argmax()),
                    "float": int(ref_logits[i].argmax()),
                    "bytes": delivery.sent_bytes[i],
                    "payload_agreement": float((sent[:, i] == ref_sent[:, i]).mean()),
                }
            )
            wire_bytes.append(delivery.sent_bytes[i])
            payload_rate.append(float(sent[:, i].mean()))
        if on_chunk:
            on_chunk(done, len(chunks))
    wall = time.perf_counter() - start
    expected = source.expected_bytes
    if expected is not None and sorted(set(wire_bytes)) != [expected]:
        raise SimulationError(
            f"measured {sorted(set(wire_bytes))} bytes per sample, the manifest says {expected}"
        )
    core_of = {gp.group.name: sorted(set(gp.tile_cores)) for gp in placement.groups}
    proc_cores = {}
    for name, kind in run.processes.items():
        owner = (
            name
            if name in core_of
            else (quantized.projections[name].target if name in quantized.projections else None)
        )
        if name.endswith(".delay") and name[: -len(".delay")] in core_of:  # a relay's synapses
            owner = name[: -len(".delay")]
        proc_cores[name] = {"kind": kind, "cores": core_of.get(owner) if owner else None}
    e_syop = target.energy_per_synaptic_op_j
    total_syops = sum(syops_group.values()) + sum(syops_relay.values())
    acc = lambda key: float(np.mean([r[key] == r["label"] for r in rows]))
    return {
        "schema": SCHEMA,
        "producer": f"sbn {__version__}",
        "source": source.label,
        "graphs": {"device": source.first, "edge": source.second},
        "target": target.name,
        "dataset": dataset,
        "samples": n,
        "time_steps": time_steps,
        "quantization": {
            "headroom_bits": quantized.headroom_bits,
            "input_scale": quantized.input_scale,
            "graph_sha256": quantized.graph_sha256,
            "notes": list(quantized.notes),
            "format": dict(quantized.format),
        },
        "accuracy": {"fixed": acc("fixed"), "float": acc("float")},
        "prediction_agreement": float(np.mean([r["fixed"] == r["float"] for r in rows])),
        "warnings": [
            f"u wrapped {k} times in layer {g} (neuron-steps whose summed input left the "
            f"{quantized.format['state_bits']}-bit current; Lava wraps it: a large positive "
            "input becomes a large negative one); more --headroom-bits make room"
            for g, k in u_wraps.items()
            if k
        ],
        "layers": {
            g: {
                "neurons": int(np.prod(quantized.neurons[g].shape)),
                "spike_agreement": agree[g][0] / agree[g][1],
                "firing_rate_fixed": spikes[g] / slots[g],
                "firing_rate_float": float_spikes[g] / slots[g],
                "spikes": spikes[g],
                "synaptic_ops": syops_group[g],
                "u_wraps": u_wraps[g],
                "vth": quantized.neurons[g].vth,
                "dv": quantized.neurons[g].dv,
            }
            for g in groups
        },
        "cores": {
            str(c): {"chip": placement.cores[c].chip if c < len(placement.cores) else None, "synaptic_ops": v}
            for c, v in sorted(syops_core.items())
        },
        "processes": proc_cores,
        "relays": {
            relay_name(p): {
                "source": src,
                "neurons": placement.group(relay_name(p)).group.neurons,
                "cores": core_of[relay_name(p)],
                "synaptic_ops": syops_relay.get(p, 0),
            }
            for p, src in relays.items()
        },
        "latency_steps": run.latency,
        "bytes_per_sample": {"measured": wire_bytes[-1], "manifest": expected},
        "bits_on_the_wire": 8 * sum(wire_bytes),
        "payload_firing_rate": float(np.mean(payload_rate)),
        "energy": {
            "synaptic_ops_per_sample": total_syops / n,
            "energy_per_synaptic_op_j": e_syop,
            "device_energy_per_sample_j": total_syops / n * e_syop,
        },
        "wall_s": wall,
        "wall_s_device": wall_device,
        "wall_s_edge": wall_edge,
        "wall_s_per_sample": wall / n,
        "results": rows,
    }


def firing_rates(report: dict[str, Any]) -> dict[str, float]:
    """NIR neuron node -> spikes per neuron per step measured in the fixed-point Lava run."""
    return {g: v["firing_rate_fixed"] for g, v in report["layers"].items()}
