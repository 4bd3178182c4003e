"""The packages import downwards only: a backend never reaches up into the toolchain.

Layers, lowest first; a module may import from its own layer and those below it:

    foundation   sbn (the version), errors, fileio, interrupts (signals as exceptions),
                 segment_ledger (shared memory that killed workers leave)
    models       sbn.models, sbn.checkpoint (a model's config and weights), sbn.data,
                 sbn.wire (payload codecs and channel models: data in, bytes out)
    graph        sbn.graph (NIR export, schedule, executor)
    targets      sbn.targets (placement, quantisation, the Lava backend)
    toolchain    training, simulation of datasets, Ray fan-out, devices, energy, sweep,
                 demo, ... (everything else)
    cli          sbn.cli, sbn.__main__

Read from the source with ``ast``, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"toolchain": "sbn", "targets": "sbn.targets", "models": "sbn.models"}

LAYERS = [
    {"sbn", "sbn.errors", "sbn.fileio", "sbn.interrupts", "sbn.segment_ledger"},
    {"sbn.models", "sbn.checkpoint", "sbn.data", "sbn.wire"},
    {"sbn.graph"},
    {"sbn.targets"},
    None,  # the toolchain: every top-level unit not named elsewhere
    {"sbn.cli", "sbn.__main__"},
]
TOOLCHAIN = LAYERS.index(None)


def unit(module: str) -> str:
    """The unit a module belongs to: ``sbn.targets.lava.plan`` -> ``sbn.targets``."""
    parts = module.split(".")
    return ".".join(parts[:2])


def layer(module: str) -> int:
    u = unit(module)
    return next((i for i, names in enumerate(LAYERS) if names and u in names), TOOLCHAIN)


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("").parts
    rest = [p for p in rel[1:] if p != "__init__"]
    return ".".join([PACKAGE_DIRS[rel[0]], *rest])


def imports(path: Path) -> set[str]:
    """Every sbn module the file imports; ``from sbn import checkpoint`` counts as
    ``sbn.checkpoint``, ``from sbn import __version__`` as ``sbn``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "sbn"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "sbn":
                found |= {"sbn" if a.name.startswith("__") else f"sbn.{a.name}" for a in node.names}
            elif node.module.startswith("sbn."):
                found.add(node.module)
    return found


def upward_imports(path: Path, here: str) -> list[str]:
    return sorted(f"{here} imports {target}" for target in imports(path) if layer(target) > layer(here))


def test_no_package_imports_from_a_layer_above_it():
    bad = [
        f"{path.relative_to(REPO)}: {line}"
        for top in PACKAGE_DIRS
        for path in sorted((REPO / top).rglob("*.py"))
        for line in upward_imports(path, module_name(path))
    ]
    assert bad == []


def test_the_rule_sees_upward_imports(tmp_path):
    """The checker itself: a backend module importing the CLI, and a lazy import of the
    simulation driver inside a function, are both reported; a downward import is not."""
    assert layer("sbn.targets.lava.plan") == LAYERS.index({"sbn.targets"})
    assert layer("sbn.simulation") == TOOLCHAIN and layer("sbn.cli.sim") > TOOLCHAIN
    assert layer("sbn.distributed") == TOOLCHAIN  # orchestration, not a backend's business
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from sbn.cli import main\nfrom sbn.graph import schedule\n\n"
        "def f():\n    from sbn import simulation\n"
    )
    assert upward_imports(probe, "sbn.targets.lava.probe") == [
        "sbn.targets.lava.probe imports sbn.cli",
        "sbn.targets.lava.probe imports sbn.simulation",
    ]
