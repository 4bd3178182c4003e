"""Issue 13, item 4: a walk over every CLI command with bad inputs. Whatever the input (a
missing, empty, binary or wrong-kind file, a folder for a file, an unknown name, a number
out of range), the user sees one line ``error: ...`` and exit code 1, never a traceback."""

from __future__ import annotations

import pytest

import sbn.cli

#: command -> bad argument lists; {missing}, {empty}, {junk}, {folder}, {text}, {json_list},
#: {file} are filled in per test (see ``places``)
WALK = {
    "bits": [
        ["--config", "{missing}"],
        ["--config", "{junk}"],
        ["--config", "{json_list}"],
        ["--config", "{folder}"],
        ["--channels", "4", "--split", "RB99"],
        ["--channels", "0"],
        ["--channels", "4", "--plot", "{folder}/x.gif"],
    ],
    "channel": [
        ["{missing}"],
        ["{junk}"],
        ["{folder}"],
        ["{text}", "--channel", "bsc:1.5"],
        ["{text}", "--channel", "noise:0.1"],
        ["{text}", "--codec", "nope"],
        ["{folder}", "--plot", "{folder}/x.gif"],
    ],
    "demo": [
        ["--split", "RB99"],
        ["--target", "nope"],
        ["--T", "0"],
        ["--out", "{file}"],
        ["--target", "{junk}.toml"],
    ],
    "energy": [
        ["--checkpoint", "{missing}"],
        ["--checkpoint", "{junk}"],
        ["--checkpoint", "{empty}"],
        ["--rates", "{junk}"],
        ["--rates", "{json_list}"],
        ["--presets-file", "{junk}"],
        ["--preset", "nope", "--firing-rate", "0.1"],
        ["--device", "tpu"],
        ["--firing-rate", "0.1", "--out", "{folder}/e.gif"],
    ],
    "export": [
        ["{missing}", "--out", "{folder}/e"],
        ["{junk}", "--out", "{folder}/e"],
        ["{empty}", "--out", "{folder}/e"],
        ["{text}", "--out", "{file}"],
        ["{text}", "--out", "{folder}/e", "--split", "RB99"],
    ],
    "map": [
        ["{missing}", "--target", "loihi2"],
        ["{junk}", "--target", "loihi2"],
        ["{empty}", "--target", "loihi2"],
        ["{text}", "--target", "nope"],
        ["{text}", "--target", "{json_list}.json"],
        ["{text}", "--target", "loihi2", "--rates", "{junk}"],
    ],
    "quantize": [
        ["{missing}"],
        ["{junk}", "--out", "{folder}/q.safetensors"],
        ["{folder}"],
        ["{text}", "--target", "rolls", "--out", "{folder}/q.safetensors"],
    ],
    "sim": [
        ["{missing}"],
        ["{junk}"],
        ["{empty}"],
        ["{folder}"],
        ["{folder}", "--dataset", "nope"],
        ["{text}", "--fuse", "nope"],
        ["{text}", "--edge", "{missing}"],
    ],
    "sweep": [
        ["--out", "{folder}/s", "--grid", "{junk}"],
        ["--out", "{folder}/s", "--grid", "{json_list}"],
        ["--out", "{folder}/s", "--backbone", "{missing}", "--splits", "RB1", "--channels", "4"],
        ["--out", "{folder}/s", "--backbone", "{junk}", "--splits", "RB1", "--channels", "4"],
        ["--out", "{file}", "--backbone", "{text}", "--splits", "RB1", "--channels", "4"],
        ["--out", "{folder}", "--resume"],
    ],
    "train": [
        ["--out", "{folder}/c.safetensors", "--from", "{junk}", "--split", "RB1", "--channels", "4"],
        ["--out", "{folder}/c.safetensors", "--dataset", "cifar10", "--data-dir", "{missing}"],
        ["--out", "{folder}/c.safetensors", "--recipe", "nope"],
        ["--out", "{folder}/c.txt"],
        ["--out", "{file}", "--resume"],
    ],
}


def test_the_walk_covers_every_command():
    assert set(WALK) == set(sbn.cli.COMMANDS)


@pytest.fixture
def places(tmp_path):
    """Files of every kind a careless or hostile user could hand a command."""
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "junk").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "junk.toml").write_bytes(b"[[[ not toml \xff")
    (tmp_path / "text").write_text("just some words\n")
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    (tmp_path / "list.json.json").write_text("[1, 2, 3]")
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("an ordinary file\n")
    return {
        "missing": tmp_path / "missing",
        "empty": tmp_path / "empty",
        "junk": tmp_path / "junk",
        "text": tmp_path / "text",
        "json_list": tmp_path / "list.json",
        "folder": tmp_path / "folder",
        "file": tmp_path / "file",
    }


@pytest.mark.parametrize("command, args", [(c, a) for c, cases in WALK.items() for a in cases])
def test_bad_input_is_one_line_and_exit_1(run_sbn, places, command, args):
    code, _, err = run_sbn(command, *(a.format(**places) for a in args))
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
