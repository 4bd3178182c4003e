"""Make tests/fixtures/interop: our portable files, run once by other frameworks.

    .venv/bin/python examples/interop/make_fixtures.py [--python python3.11] [--venv DIR]

1. A small stride-2 SpikeBottleNet (norms calibrated on random images, so it fires like a
   trained net) is exported with ``--profile portable`` into tests/fixtures/interop/portable/.
2. inputs.npz: the images (fed at each of the T steps) and the device part's spikes from our
   executor (what the edge part is fed).
3. A virtual environment for the frameworks (git-ignored, under examples/interop/.venvs/)
   is created with ``--python`` (Python 3.10 is too old for SpikingJelly 2) and the pinned
   FRAMEWORKS installed; run_framework.py then loads our files in it as each framework's
   users do and writes <framework>.npz: the Output and every neuron's spikes per file.
4. versions.json: the exact versions, the date, the dtype and how each framework loaded.

tests/interop/test_framework_fixtures.py compares the committed outputs with our executor.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "interop"

#: what the framework venv installs (torch from the machine's local wheel store)
FRAMEWORKS = ["torch==2.14.1", "snntorch==1.0.0", "spikingjelly==2.0.0", "norse==1.1.0"]
#: packages whose resolved versions versions.json records
RECORDED = ["torch", "snntorch", "spikingjelly", "norse", "nirtorch", "nir", "numpy"]
#: framework -> how run_framework.py loads our files (for versions.json and docs/interop.md)
LOADED_WITH = {
    "snntorch": "snntorch.import_nir.import_from_nir(graph) (dt = 1e-4 is built in)",
    "spikingjelly": "spikingjelly.activation_based.nir_exchange.import_from_nir(graph, dt=1e-4)",
    "norse": "nirtorch.nir_to_torch(graph, {nir.LIF: norse.torch.LIFBoxCell(LIFBoxParameters"
    "(tau_mem_inv=1/tau, v_th, v_leak, v_reset), dt=1e-4)})",
}
#: the model: reduced width and one block per stage keep the three files ~0.5 MB together
CONFIG = dict(width=0.015625, layers=(1, 1, 1, 1), image_size=8, num_classes=10, time_steps=4)
SEED = 2


def build_checkpoint(path: Path) -> None:
    import torch

    from sbn import checkpoint as ckpt_io
    from sbn.data.base import ImageDataset
    from sbn.models import BottleneckConfig, ModelConfig, build_model
    from sbn.train import recalibrate_norm

    config = ModelConfig(**CONFIG, bottleneck=BottleneckConfig(split=2, channels=4, stride=2))
    torch.manual_seed(SEED)
    model = build_model(config)
    images = torch.from_numpy(np.random.default_rng(SEED).random((32, 3, 8, 8))).float()
    recalibrate_norm(
        model,
        ImageDataset("random", images, torch.zeros(32, dtype=torch.int64), 10),
        batch_size=32,
        samples=32,
    )
    ckpt_io.save(path, ckpt_io.Checkpoint(config, model.eval().state_dict()))


def export_and_inputs() -> None:
    from sbn.fileio import atomic_path
    from sbn.graph import execute, export_checkpoint, load_nir

    with tempfile.TemporaryDirectory() as tmp:
        build_checkpoint(Path(tmp) / "interop.safetensors")
        export_checkpoint(Path(tmp) / "interop.safetensors", FIXTURES / "portable", profile="portable")
    steps = CONFIG["time_steps"]
    images = np.random.default_rng(0).random((2, 3, 8, 8))
    frames = np.broadcast_to(images, (steps, *images.shape))
    payload = execute(load_nir(FIXTURES / "portable" / "device.nir"), frames).outputs["output"]
    with atomic_path(FIXTURES / "inputs.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, images=images, time_steps=steps, payload=payload)


def framework_python(venv: Path, python: str) -> Path:
    """The venv's interpreter, creating the venv and installing FRAMEWORKS if needed."""
    exe = venv / "bin" / "python"
    if not exe.exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(exe), "-m", "pip", "install", *FRAMEWORKS], check=True)
    return exe


def run_frameworks(exe: Path) -> None:
    from sbn.fileio import atomic_path

    for framework in LOADED_WITH:
        with atomic_path(FIXTURES / f"{framework}.npz") as out:
            subprocess.run(
                [
                    str(exe),
                    str(HERE / "run_framework.py"),
                    framework,
                    str(FIXTURES / "portable"),
                    str(FIXTURES / "inputs.npz"),
                    str(out),
                ],
                check=True,
            )


def write_versions(exe: Path) -> None:
    from sbn.fileio import write_json

    probe = (
        "import importlib.metadata as m, json, sys; "
        f"print(json.dumps({{'python': sys.version.split()[0], **{{p: m.version(p) "
        f"for p in {RECORDED!r}}}}}))"
    )
    versions = json.loads(
        subprocess.run([str(exe), "-c", probe], check=True, capture_output=True, text=True).stdout
    )
    write_json(
        FIXTURES / "versions.json",
        {
            "schema": "sbn.interop-fixtures/1",
            "date": datetime.date.today().isoformat(),
            "made_by": "examples/interop/make_fixtures.py",
            "packages": versions,
            "dtype": "float32",
            "dt": 1e-4,
            "loaded_with": LOADED_WITH,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python", default="python3.11", help="interpreter for the frameworks' venv (3.11: SpikingJelly 2)"
    )
    parser.add_argument("--venv", type=Path, default=HERE / ".venvs" / "frameworks")
    args = parser.parse_args()
    exe = framework_python(args.venv, args.python)
    export_and_inputs()
    run_frameworks(exe)
    write_versions(exe)
    print(f"wrote {FIXTURES}", file=sys.stderr)


if __name__ == "__main__":
    main()
