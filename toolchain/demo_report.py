"""``report.md`` of ``sbn demo``: the report's figures as one markdown table, and the files."""

from __future__ import annotations

from typing import Any


def render_markdown(report: dict[str, Any]) -> str:
    t = report["training"]
    s = report["settings"]
    lava = report["lava"]
    bits = report["bits"]
    e = report["energy"]["at_split"]
    lines = [
        "# SpikeBottleNet demo report",
        "",
        f"sbn {report['tool_version']}, {report['dataset']}, width {s['width']}, T = {s['time_steps']}, "
        f"bottleneck after {s['split']} with C' = {s['channels']}, stride {s['stride']}.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| backbone test accuracy (PyTorch) | {t['backbone']['accuracy']:.2%} |",
        f"| SpikeBottleNet test accuracy (PyTorch) | {t['spikebottlenet']['accuracy']:.2%} |",
        f"| accuracy drop vs backbone | {100 * t['spikebottlenet']['accuracy_drop']:+.2f} points |",
        f"| Lava accuracy on {lava['samples']} test samples | {lava['lava_accuracy']:.2%} |",
        f"| PyTorch accuracy on the same samples | {lava['pytorch_accuracy']:.2%} |",
        f"| Lava / PyTorch prediction agreement | {lava['agreement']:.2%} |",
        f"| Lava / reference-executor payload spikes identical | {lava['payload_identical_to_executor']} |",
        f"| bits per sample on the wire (measured) | {8 * lava['bytes_per_sample']:,} ({lava['bytes_per_sample']:,} bytes) |",
        *_channel_rows(report["channel"]),
        *_fixed_rows(report["fixed_point"]),
        f"| transmitted bits (manifest) | {bits['transmitted_bits']:,} |",
        f"| raw bits at the split | {bits['raw_bits']:,} |",
        f"| compression ratio | {bits['compression_ratio']:.1f}x |",
        f"| reduction vs BottleNet++ (8-bit) | {bits['reduction_vs_bottlenetpp_pct']:.1f} % |",
        f"| device energy to {s['split']}, BottleNet++ 45 nm | {e['ann_mj']:.3g} mJ |",
    ]
    for key, value in e.items():
        if key.startswith("snn_") and key.endswith("_mj") and value is not None:
            lines.append(f"| device energy to {s['split']}, SpikeBottleNet {key[4:-3]} | {value:.3g} mJ |")
    for part, summary in report["map"].items():
        lines.append(
            f"| {part} graph on {s['target']} | {summary.get('cores_used')} cores, "
            f"{summary.get('chips_used')} chip(s) |"
        )
    fixed_in = report["fixed_point"]["export"]  # the quantised model's folder
    quantised = f"{fixed_in}/device.{s['target']}.safetensors"
    qat = (
        f"spikebottlenet-{s['target']}.safetensors and {fixed_in}/ (the quantisation-aware model), "
        if fixed_in != "export"
        else ""
    )
    lines += [
        "",
        "Files: backbone.safetensors, spikebottlenet.safetensors, export/ (full.nir, device.nir, "
        f"edge.nir, manifest.json), map.json, lava.json, channel.json, channel.png, {qat}{quantised}, "
        "lava-fixed.json, rates-fixed.json, energy.json, energy.png, bits.json, bits.png, report.json.",
        "",
    ]
    return "\n".join(lines)


def _channel_rows(ch: dict[str, Any]) -> list[str]:
    rates = " / ".join(c.split(":", 1)[1] for c in ch["channels"])
    return [
        f"| accuracy at bit-error rate {rates}, {codec} ({ch['bytes_per_sample'][codec]:,.0f} "
        f"bytes/sample) on {ch['samples']} samples | "
        + " / ".join(f"{row[c]['accuracy']:.1%} ({row[c]['lost_frames']} lost)" for c in ch["channels"])
        + " |"
        for codec, row in ch["results"].items()
    ]


def _fixed_rows(fx: dict[str, Any]) -> list[str]:
    epochs = fx["quantisation_aware_epochs"]
    model = (
        f"the SpikeBottleNet after {epochs} quantisation-aware epochs"
        if epochs
        else "the SpikeBottleNet rounded as trained"
    )
    return [
        f"| device in {fx['target']} fixed point on Lava's Conv/LIF processes ({model}): accuracy on "
        f"{fx['samples']} samples | {fx['fixed_accuracy']:.2%} |",
        f"| the same samples with that model's device in float | {fx['float_accuracy']:.2%} |",
        f"| fixed / float prediction agreement | {fx['prediction_agreement']:.2%} |",
        f"| fixed / float spike agreement per layer (mean, lowest) | {fx['spike_agreement_mean']:.3f}, "
        f"{fx['spike_agreement_min']:.3f} |",
        f"| synaptic ops per sample, measured in Lava | {fx['synaptic_ops_per_sample']:,.0f} "
        f"({1e6 * fx['device_energy_per_sample_j']:.3g} uJ on {fx['target']}) |",
    ]
