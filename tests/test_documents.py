"""One reader for every versioned document: fileio.read_document, and its one-line errors."""

from __future__ import annotations

import ast
import json

import pytest

from sbn.errors import ConfigError
from sbn.fileio import read_document


def test_json_and_toml_with_the_version_key(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"schema": "sbn.x/1", "n": 1}))
    (tmp_path / "a.toml").write_text('schema = "sbn.x/1"\nn = 1\n')
    assert read_document(tmp_path / "a.json", "sbn.x/1", "an x") == {"schema": "sbn.x/1", "n": 1}
    assert read_document(tmp_path / "a.toml", ("sbn.x/1", "sbn.x/2"), "an x")["n"] == 1


def test_the_older_version_key_is_read_too(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"format": "sbn.x/1"}))
    assert read_document(tmp_path / "old.json", "sbn.x/1", "an x") == {"format": "sbn.x/1"}


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"schema": "sbn.x/2"}',
            r"x.json: key 'schema' is 'sbn.x/2'; this sbn reads an x with schema 'sbn.x/1'",
        ),
        ('{"n": 1}', r"x.json: key 'schema' is None; this sbn reads an x with schema 'sbn.x/1'"),
        ('[1, 2]', r"x.json: an x must be a table \(a JSON object\) at the top, found list"),
        ('{"schema": ', r"x.json: not valid JSON"),
        (b"\xff\xfe", r"x.json: not valid JSON"),
    ],
)
def test_errors_name_the_file_the_key_and_the_version(tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=message) as info:
        read_document(path, "sbn.x/1", "an x")
    assert "\n" not in str(info.value)


def test_missing_file_and_optional_version(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.toml: cannot read an x \(No such file"):
        read_document(tmp_path / "nope.toml", "sbn.x/1", "an x")
    (tmp_path / "hand.toml").write_text("n = 2\n")
    assert read_document(tmp_path / "hand.toml", "sbn.x/1", "an x", version_optional=True) == {"n": 2}


def test_every_versioned_reader_uses_it():
    """The readers of the toolchain's documents go through read_document (or check_version for
    data already parsed): no module parses a versioned file by hand."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readers = {
        "toolchain/graph/rates.py",
        "toolchain/graph/manifest_read.py",
        "toolchain/energy/report.py",
        "toolchain/energy/presets.py",
        "toolchain/energy/bits.py",
        "toolchain/sweep/store.py",
        "toolchain/sweep/summary.py",
        "toolchain/sweep/gridfile.py",
        "targets/registry.py",
        "targets/report.py",
    }
    for rel in sorted(readers):
        tree = ast.parse((root / rel).read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert {"read_document", "check_version"} & names, rel
        found = hand_parsing(tree)
        assert found == [], f"{rel} parses JSON/TOML itself: {found}"


#: the parsers' modules (tomli: tomllib's backport) and their parsing functions
PARSER_MODULES = {"json", "tomllib", "tomli"}
PARSERS = {"load", "loads"}


def hand_parsing(tree) -> list[str]:
    """Where ``tree`` parses JSON or TOML without read_document: any ``.loads`` attribute,
    ``json.load``/``tomllib.load`` (under any alias), and ``from json import load(s)``."""

    aliases = set(PARSER_MODULES)  # import json as j: j.load counts too
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname for a in node.names if a.name in PARSER_MODULES and a.asname}
        elif isinstance(node, ast.ImportFrom) and node.module in PARSER_MODULES:
            found += [f"from {node.module} import {a.name}" for a in node.names if a.name in PARSERS | {"*"}]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        on = node.value.id if isinstance(node.value, ast.Name) else None
        if node.attr == "loads" or (node.attr == "load" and on in aliases):
            found.append(f"{on or '<expr>'}.{node.attr}")
    return found


@pytest.mark.parametrize(
    "source, found",
    [
        ("import json\njson.loads(text)", ["json.loads"]),
        ("import json\njson.load(fh)", ["json.load"]),
        ("import tomllib\ntomllib.load(fh)", ["tomllib.load"]),
        ("import tomllib as t\nt.load(fh)", ["t.load"]),
        ("from json import loads\nloads(text)", ["from json import loads"]),
        ("from tomllib import load, loads", ["from tomllib import load", "from tomllib import loads"]),
        ("from json import *", ["from json import *"]),
        ("data = something().loads(text)", ["<expr>.loads"]),
        # allowed: writing JSON, and other modules' load (a checkpoint, a dataset)
        ("import json\njson.dumps(x); json.dump(x, fh)", []),
        ("from json import dumps\nckpt_io.load(path); torch.load(path)", []),
    ],
)
def test_hand_parsing_is_found(source, found):

    assert hand_parsing(ast.parse(source)) == found
