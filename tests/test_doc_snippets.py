"""The Python in README.md and docs/*.md parses, and every name it imports from ``sbn`` exists
(the snippets of docs/sweep.md and docs/targets.md once kept names from before a rename)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def snippets() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{document.relative_to(REPO)}:{line}", match.group(1)))
    return found


def sbn_imports(tree: ast.AST) -> list[tuple[str, str | None]]:
    """(module, name) for ``from sbn... import name``; (module, None) for ``import sbn...``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("sbn"):
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name.split(".")[0] == "sbn"]
    return found


def test_the_documents_have_python_snippets():
    assert len(snippets()) >= 5


@pytest.mark.parametrize("where, code", snippets(), ids=[where for where, _ in snippets()])
def test_snippet_parses_and_its_sbn_imports_exist(where, code):
    tree = ast.parse(code, where)
    for module, name in sbn_imports(tree):
        imported = importlib.import_module(module)
        if name is not None and not hasattr(imported, name):
            importlib.import_module(f"{module}.{name}")  # a submodule: raises if there is none
