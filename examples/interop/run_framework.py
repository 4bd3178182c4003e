"""Run our portable NIR files with one framework, the way its users load NIR files.

    python run_framework.py FRAMEWORK EXPORT_DIR INPUTS.npz OUT [--dtype ...] [--dt DT]

Runs inside the frameworks' own virtual environment (make_fixtures.py creates it): it
imports nothing from sbn. EXPORT_DIR holds full.nir, device.nir and edge.nir; INPUTS.npz
``images`` [B, C, H, W], fed at each of ``time_steps`` steps, and ``payload`` [T, B, ...],
the device part's spikes, fed to edge.nir. OUT (an npz) gets, per file, the Output at every
step (``full.output`` [T, B, ...]) and every neuron node's spikes (``full.spikes.<node>``,
uint8). ``norse-from_nir`` is norse's documented loader, kept to show how it fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nir
import numpy as np
import torch

#: the time base our portable profile is written for (sbn.graph.portable.PORTABLE_DT);
#: --dt changes it for SpikingJelly and norse (snntorch has 1e-4 built in)
DT = 1e-4


def load_snntorch(graph: nir.NIRGraph, dtype, dt: float):
    from snntorch.import_nir import import_from_nir  # dt = 1e-4 is built in: no argument

    return import_from_nir(graph).to(dtype)


def load_spikingjelly(graph: nir.NIRGraph, dtype, dt: float):
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    return import_from_nir(graph, dt=dt, dtype=dtype)


def load_norse(graph: nir.NIRGraph, dtype, dt: float):
    """norse's LIF through nirtorch's current loader (norse.torch.from_nir goes through the
    deprecated nirtorch.load, which sums residual joins wrongly: see docs/interop.md)."""
    import nirtorch
    from norse.torch import LIFBoxCell, LIFBoxParameters

    def lif(node: nir.LIF):
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype)
        params = LIFBoxParameters(
            tau_mem_inv=1 / t(node.tau),
            v_th=t(node.v_threshold),
            v_leak=t(node.v_leak),
            v_reset=t(node.v_reset),
        )
        return LIFBoxCell(params, dt=dt)

    return nirtorch.nir_to_torch(graph, {nir.LIF: lif}, dtype=dtype)


def load_norse_deprecated(graph: nir.NIRGraph, dtype, dt: float):
    """What norse's documentation shows: norse.torch.from_nir (nirtorch.load underneath)."""
    import norse.torch

    return norse.torch.from_nir(graph, dt=dt).to(dtype)


LOADERS = {
    "snntorch": load_snntorch,
    "spikingjelly": load_spikingjelly,
    "norse": load_norse,
    "norse-from_nir": load_norse_deprecated,
}


def run(
    framework: str, graph: nir.NIRGraph, frames: np.ndarray, dtype, dt: float = DT
) -> dict[str, np.ndarray]:
    """Step the framework's module over frames [T, B, ...]; the Output and every neuron's
    spikes, [T, B, ...]."""
    torch.manual_seed(0)
    net = LOADERS[framework](graph, dtype, dt)
    neurons = {n for n, node in graph.nodes.items() if isinstance(node, (nir.LIF, nir.IF))}
    spikes: dict[str, list] = {n: [] for n in neurons}
    by_module = {n.replace(".", "_"): n for n in neurons}
    hooks = []
    for name, module in net.named_modules():
        if name in by_module:
            record = spikes[by_module[name]]
            hooks.append(
                module.register_forward_hook(
                    lambda m, i, o, record=record: record.append(_first(o).detach().clone())
                )
            )
    outputs, state = [], None
    with torch.no_grad():
        for frame in frames:
            y, state = _step(net, torch.as_tensor(np.array(frame), dtype=dtype), state)
            outputs.append(_first(y))
    for h in hooks:
        h.remove()
    result = {"output": torch.stack(outputs).double().numpy()}
    for n, steps in spikes.items():
        if len(steps) != len(frames):
            raise SystemExit(f"{framework}: neuron {n} ran {len(steps)} times in {len(frames)} steps")
        result[f"spikes.{n}"] = torch.stack(steps).numpy().astype(np.uint8)
    return result


def _step(net, x, state):
    out = net(x, state) if state is not None else net(x)
    if isinstance(out, tuple) and len(out) == 2:
        return out
    return out, None  # modules that keep their state inside (snntorch's init_hidden)


def _first(value):
    return value[0] if isinstance(value, (tuple, list)) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=sorted(LOADERS))
    parser.add_argument("export_dir")
    parser.add_argument("inputs")
    parser.add_argument("out")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--dt", type=float, default=DT)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    inputs = np.load(args.inputs)
    t = int(inputs["time_steps"])
    images = np.broadcast_to(inputs["images"], (t, *inputs["images"].shape))
    feeds = {"full": images, "device": images, "edge": inputs.get("payload")}
    saved = {}
    for part, frames in feeds.items():
        path = Path(args.export_dir) / f"{part}.nir"
        if not path.exists():  # a backbone export without --split has only full.nir
            continue
        graph = nir.read(path)
        for key, value in run(args.framework, graph, frames, dtype, args.dt).items():
            saved[f"{part}.{key}"] = value
    with open(args.out, "wb") as f:  # a file object: savez would append ".npz" to a name
        np.savez_compressed(f, **saved)
    print(f"{args.framework}: wrote {len(saved)} arrays to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
