"""Issue 13, item 4: a walk over every CLI command with bad inputs. Whatever the input (a
missing, empty, binary or wrong-kind file, a folder for a file, an unknown name, a number
out of range), the user sees one line ``error: ...`` and exit code 1, never a traceback."""

from __future__ import annotations

import pytest

import sbn.cli

#: command -> (bad argument list, a fragment of the one error line); {missing}, {empty},
#: {junk}, {folder}, {text}, {json_list}, {file} are filled in per test (see ``places``);
#: {export} (an `sbn export` folder) and {ckpt} (its checkpoint) are real, valid inputs, so
#: that an option's own check is what refuses the case, not the file beside it
WALK = {
    "bits": [
        (["--config", "{missing}"], "missing: cannot read a bits config (No such file"),
        (["--config", "{junk}"], "junk: not valid JSON"),
        (
            ["--config", "{json_list}"],
            "list.json: a bits config must be a table (a JSON object) at the top, found list",
        ),
        (["--config", "{folder}"], "Invalid value for '--config'"),
        (["--channels", "4", "--split", "RB99"], "unknown split 'RB99': valid splits are RB1..RB16"),
        (["--channels", "0"], "Invalid value for '--channels': 0 is not in the range"),
        (["--channels", "4", "--plot", "{folder}/x.gif"], "x.gif: cannot tell the plot format"),
    ],
    "channel": [
        (["{missing}"], "Invalid value for 'SOURCE'"),
        (["{junk}"], "junk: the channel acts between a device and an edge graph"),
        (["{folder}"], "folder: no manifest.json; give an `sbn export` folder or a .nir file"),
        (
            ["{export}", "--channel", "bsc:1.5"],
            "channel 'bsc:1.5': the flip probability P must be in [0, 1], got 1.5",
        ),
        (["{export}", "--channel", "noise:0.1"], "unknown channel 'noise:0.1': known are none"),
        (["{export}", "--codec", "nope"], "Invalid value for '--codec': 'nope' is not one of"),
        (["{export}", "--plot", "{folder}/x.gif"], "x.gif: cannot tell the plot format"),
    ],
    "demo": [
        (["--split", "RB99"], "unknown split 'RB99'"),
        (["--target", "nope"], "unknown target 'nope'; known targets: loihi2, rolls"),
        (["--T", "0"], "Invalid value for '--T' / '--time-steps': 0 is not in the range"),
        (["--out", "{file}"], "Invalid value for '--out'"),
        (["--target", "{junk}.toml"], "junk.toml: not valid TOML"),
    ],
    "energy": [
        (["--checkpoint", "{missing}"], "missing: no such checkpoint file"),
        (["--checkpoint", "{junk}"], "junk: not a readable safetensors checkpoint"),
        (["--checkpoint", "{empty}"], "empty: not a readable safetensors checkpoint"),
        (["--rates", "{junk}"], "junk: not valid JSON"),
        (
            ["--rates", "{json_list}"],
            "list.json: firing rates must be a table (a JSON object) at the top, found list",
        ),
        (["--presets-file", "{junk}"], "junk: not valid JSON"),
        (["--preset", "nope", "--firing-rate", "0.1"], "unknown energy preset 'nope'"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (
            ["--firing-rate", "0.1", "--out", "{folder}/e.gif"],
            "e.gif: cannot tell the format from the suffix",
        ),
    ],
    "export": [
        (["{missing}", "--out", "{folder}/e"], "missing: no such checkpoint file"),
        (["{junk}", "--out", "{folder}/e"], "junk: not a readable safetensors checkpoint"),
        (["{empty}", "--out", "{folder}/e"], "empty: not a readable safetensors checkpoint"),
        (["{text}", "--out", "{file}"], "Invalid value for '--out'"),
        (
            ["{ckpt}", "--out", "{folder}/e", "--split", "RB99"],
            "unknown split 'RB99': valid splits are RB1..RB4",
        ),
    ],
    "map": [
        (["{missing}", "--target", "loihi2"], "missing: no such NIR file"),
        (["{junk}", "--target", "loihi2"], "junk: not a readable NIR (HDF5) file"),
        (["{empty}", "--target", "loihi2"], "empty: not a readable NIR (HDF5) file"),
        (["{text}", "--target", "nope"], "unknown target 'nope'"),
        (["{text}", "--target", "{json_list}.json"], "list.json.json: a target description must be a table"),
        (["{export}/device.nir", "--target", "loihi2", "--rates", "{junk}"], "junk: not valid JSON"),
    ],
    "quantize": [
        (["{missing}"], "Invalid value for 'SOURCE'"),
        (["{junk}", "--out", "{folder}/q.safetensors"], "junk: not a readable NIR (HDF5) file"),
        (["{folder}"], "folder/manifest.json: cannot read an export manifest"),
        (
            ["{export}", "--target", "rolls", "--out", "{folder}/q.safetensors"],
            "target 'rolls' states no fixed-point format",
        ),
    ],
    "sim": [
        (["{missing}"], "Invalid value for 'SOURCE'"),
        (["{junk}"], "junk: not a readable NIR (HDF5) file"),
        (["{empty}"], "empty: not a readable NIR (HDF5) file"),
        (["{folder}"], "folder/manifest.json: cannot read an export manifest"),
        (["{export}", "--dataset", "nope"], "Invalid value for '--dataset': 'nope' is not one of"),
        (["{text}", "--fuse", "nope"], "Invalid value for '--fuse': 'nope' is not one of"),
        (["{text}", "--edge", "{missing}"], "Invalid value for '--edge'"),
    ],
    "sweep": [
        (["--out", "{folder}/s", "--grid", "{junk}"], "junk: a sweep file ends in .toml or .json"),
        (
            ["--out", "{folder}/s", "--grid", "{json_list}"],
            "list.json: a sweep file must be a table (a JSON object) at the top, found list",
        ),
        (
            ["--out", "{folder}/s", "--backbone", "{missing}", "--splits", "RB1", "--channels", "4"],
            "missing: no such checkpoint file",
        ),
        (
            ["--out", "{folder}/s", "--backbone", "{junk}", "--splits", "RB1", "--channels", "4"],
            "junk: not a readable safetensors checkpoint",
        ),
        (
            ["--out", "{file}", "--backbone", "{text}", "--splits", "RB1", "--channels", "4"],
            "Invalid value for '--out'",
        ),
        (["--out", "{folder}", "--resume"], "the sweep needs --backbone CKPT"),
    ],
    "train": [
        (
            ["--out", "{folder}/c.safetensors", "--from", "{junk}", "--split", "RB1", "--channels", "4"],
            "junk: not a readable safetensors checkpoint",
        ),
        (
            ["--out", "{folder}/c.safetensors", "--dataset", "cifar10", "--data-dir", "{missing}"],
            "missing/cifar-10-batches-py: not found",
        ),
        (["--out", "{folder}/c.safetensors", "--recipe", "nope"], "Invalid value for '--recipe'"),
        (["--out", "{folder}/c.txt"], "c.txt: checkpoints are .safetensors files"),
        (["--out", "{file}", "--resume"], "file: checkpoints are .safetensors files"),
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


@pytest.fixture(scope="module")
def exported(tmp_path_factory, export_small_sbn):
    return export_small_sbn(tmp_path_factory.mktemp("walk"))


@pytest.mark.parametrize("command, args, message", [(c, a, m) for c, cases in WALK.items() for a, m in cases])
def test_bad_input_is_one_line_and_exit_1(run_sbn, places, request, command, args, message):
    if any("{export}" in a or "{ckpt}" in a for a in args):  # built once, for the cases that use it
        root = request.getfixturevalue("exported")
        places = {**places, "export": root / "export", "ckpt": root / "m.safetensors"}
    code, _, err = run_sbn(command, *(a.format(**places) for a in args))
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert message in lines[0], lines[0]
