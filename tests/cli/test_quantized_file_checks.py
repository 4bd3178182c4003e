"""A quantisation file (`sbn quantize`'s safetensors) and the export manifest's `quantized`
entry are checked when read: a damaged or hand-edited one is refused on one line naming the
file and the field, never followed outside the folder, never run with values the chip's
formats cannot hold. `sbn quantize` reports a full disk on one line, and its
--headroom-bits range is the one that works."""

from __future__ import annotations

import json
import shutil

import pytest

SIM = ("--target", "loihi2", "--samples", "1")
QFILE = "device.loihi2.safetensors"


@pytest.fixture(scope="module")
def quantized(tmp_path_factory, export_small_sbn):
    """An export with its loihi2 quantisation recorded in the manifest (the library calls
    `sbn quantize` makes)."""
    from sbn.graph.io import load_nir
    from sbn.targets import get_target
    from sbn.targets.quantize import quantize, save_in_export

    root = export_small_sbn(tmp_path_factory.mktemp("qchecks"))
    export = root / "export"
    save_in_export(export, quantize(load_nir(export / "device.nir"), get_target("loihi2")))
    return root


@pytest.fixture
def export(quantized, tmp_path):
    """A fresh copy of the quantised export for one test to damage."""
    return shutil.copytree(quantized / "export", tmp_path / "export")


def rewrite(path, meta=None, tensors=None) -> None:
    """Rewrite the quantisation file at ``path``: ``meta(dict) -> new metadata value`` and
    ``tensors(dict)`` changing the tensors in place."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(path), framework="numpy") as f:
        data = json.loads(f.metadata()["sbn"])
    arrays = load_file(str(path))
    if meta is not None:
        data = meta(data)
    if tensors is not None:
        tensors(arrays)
    save_file(arrays, str(path), metadata={"sbn": json.dumps(data)})


def edit(change):
    """A ``meta`` function applying ``change(dict)`` in place."""

    def apply(data):
        change(data)
        return data

    return apply


def put(key, value):
    def apply(arrays):
        import numpy as np

        arrays[key] = np.asarray(value)

    return apply


def set_tensor_value(key, value):
    def apply(arrays):
        arrays[key] = arrays[key].copy()
        arrays[key].flat[0] = value

    return apply


def stem(field, value):
    return edit(lambda d: d["neurons"]["stem.lif"].__setitem__(field, value))


def conv(field, value):
    return edit(lambda d: d["projections"]["stem.conv"].__setitem__(field, value))


def reshaped_conv(d):
    d["projections"]["stem.conv"]["shape"] = [1, 1, 1, 1]


# (metadata change, tensor change, text the one line must hold)
DAMAGE = {
    "metadata not an object": (lambda d: [1], None, "metadata 'sbn' is [1]"),
    "du not a number": (
        stem("du", "x"),
        None,
        "neurons.stem.lif.du is 'x'; accepted: a whole number in 0..4095",
    ),
    "weight tensor of another shape": (
        None,
        put("projection/stem.conv/weight_mant", [[1, 2], [3, 4]]),
        "'projection/stem.conv/weight_mant' has shape [2, 2]",
    ),
    "negative threshold": (
        stem("vth", -5),
        None,
        "neurons.stem.lif.vth is -5; accepted: a whole number in 1..131071",
    ),
    "threshold past 17 bits": (stem("vth", 2**17), None, "neurons.stem.lif.vth"),
    "dv past 12 bits": (stem("dv", 4096), None, "neurons.stem.lif.dv"),
    "sigma not positive": (stem("sigma", 0), None, "neurons.stem.lif.sigma"),
    "weight mantissa past 8 bits": (
        None,
        set_tensor_value("projection/stem.conv/weight_mant", 1000),
        "holds 1000; accepted: -128..127",
    ),
    "float weight mantissas": (
        None,
        put("projection/stem.conv/weight_mant", [0.5]),
        "'projection/stem.conv/weight_mant' holds float",
    ),
    "bias exponent past 3 bits": (
        None,
        set_tensor_value("neuron/stem.lif/bias_exp", 100),
        "holds 100; accepted: 0..7",
    ),
    "bias mantissa past 13 bits": (
        None,
        set_tensor_value("neuron/stem.lif/bias_mant", -5000),
        "holds -5000; accepted: -4096..4095",
    ),
    "weight exponent 99": (conv("weight_exp", 99), None, "projections.stem.conv.weight_exp is 99"),
    "unknown kind": (conv("kind", "dense"), None, "projections.stem.conv.kind"),
    "graded flipped": (conv("graded", False), None, "projections.stem.conv.graded"),
    "projection into no neuron": (conv("target", "nowhere"), None, "projections.stem.conv.target"),
    "headroom no format holds": (
        edit(lambda d: d.__setitem__("headroom_bits", 0)),
        None,
        "headroom_bits is 0",
    ),
    "input scale": (edit(lambda d: d.__setitem__("input_scale", 1)), None, "input_scale is 1"),
    "dt": (edit(lambda d: d.__setitem__("dt", -1.0)), None, "dt is -1.0"),
    "output of no neuron": (edit(lambda d: d["outputs"].__setitem__("output", "x")), None, "outputs.output"),
    "missing neuron entry": (
        edit(lambda d: d["neurons"]["stem.lif"].pop("vth")),
        None,
        "neurons.stem.lif.vth",
    ),
    "neurons not a table": (edit(lambda d: d.__setitem__("neurons", 3)), None, "neurons is 3"),
    "formats of another chip": (
        edit(lambda d: d["format"].__setitem__("weight_mant_bits", 16)),
        None,
        "format differs from target 'loihi2'",
    ),
    "broken format": (edit(lambda d: d["format"].__setitem__("state_bits", "x")), None, "state_bits"),
    "another target": (edit(lambda d: d.__setitem__("target", "loihi9")), None, "not 'loihi2'"),
    "shapes that are not the graph's": (
        edit(reshaped_conv),
        put("projection/stem.conv/weight_mant", [[[[1]]]]),
        "projections.stem.conv is ('conv', 'input', 'stem.lif', (1, 1, 1, 1)); the device graph has",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_quantisation_file_is_refused_naming_the_field(refused, export, case):
    meta, tensors, match = DAMAGE[case]
    qfile = export / QFILE
    rewrite(qfile, meta, tensors)
    line = refused("sim", export, *SIM, touches=[export], match=match)
    assert str(qfile) in line


def test_a_damaged_quantized_option_file_is_refused_too(refused, export, tmp_path):
    """`--quantized F`, a file outside the export, gets the same checks."""
    qfile = tmp_path / "q.safetensors"
    shutil.copy(export / QFILE, qfile)
    rewrite(qfile, stem("vth", -1))
    refused(
        "sim",
        export,
        *SIM,
        "--quantized",
        qfile,
        touches=[export, qfile],
        match=f"{qfile}: neurons.stem.lif.vth",
    )


def test_the_files_sbn_quantize_writes_load_unchanged(quantized):
    """The checks accept every value `quantize` makes, for the default and the edge
    headroom settings, and read back what was written."""
    import numpy as np

    from sbn.graph.io import load_nir
    from sbn.targets import get_target
    from sbn.targets.quantize import load, quantize, save

    graph = load_nir(quantized / "export" / "device.nir")
    target = get_target("loihi2")
    for headroom in (1, 6, 17):
        q = quantize(graph, target, headroom_bits=headroom)
        path = quantized / f"h{headroom}.safetensors"
        save(path, q)
        back = load(path, target=target, graph=graph)
        assert back.neurons.keys() == q.neurons.keys() and back.projections.keys() == q.projections.keys()
        for name, n in q.neurons.items():
            m = back.neurons[name]
            assert (m.vth, m.du, m.dv, m.shape, m.sigma) == (n.vth, n.du, n.dv, n.shape, n.sigma)
            assert np.array_equal(m.bias_mant, n.bias_mant) and np.array_equal(m.bias_exp, n.bias_exp)
        for name, p in q.projections.items():
            r = back.projections[name]
            assert (r.kind, r.source, r.target, r.weight_exp, r.graded) == (
                p.kind,
                p.source,
                p.target,
                p.weight_exp,
                p.graded,
            )
            assert np.array_equal(r.weight_mant, p.weight_mant)


# ---- the manifest's `quantized` entry ------------------------------------------------------
BAD_ENTRIES = {
    "a string": ("abc", "quantized must map target names to file names"),
    "a list": ([1], "quantized must map target names to file names"),
    "a number for a file": ({"loihi2": 5}, "quantized.loihi2 must be the name of a .safetensors file"),
    "a path up": ({"loihi2": "../m.safetensors"}, "not a path"),
    "an absolute path": ({"loihi2": "/etc/passwd"}, "not a path"),
    "a folder": ({"loihi2": ".."}, "quantized.loihi2"),
    "an empty key": ({"": QFILE}, "keys are target names"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
@pytest.mark.parametrize("command", ["sim", "quantize"])
def test_a_bad_quantized_manifest_entry_is_refused(refused, export, case, command):
    value, match = BAD_ENTRIES[case]
    manifest = export / "manifest.json"
    data = json.loads(manifest.read_text())
    data["quantized"] = value
    manifest.write_text(json.dumps(data))
    args = ("sim", export, *SIM) if command == "sim" else ("quantize", export)
    line = refused(*args, touches=[export], match=match)
    assert str(manifest) in line


def test_a_file_outside_the_folder_is_not_followed(refused, export):
    """``../x.safetensors``, a readable quantisation next to the export folder: refused as a
    path, not read."""
    manifest = export / "manifest.json"
    shutil.copy(export / QFILE, export.parent / "x.safetensors")
    data = json.loads(manifest.read_text())
    data["quantized"] = {"loihi2": "../x.safetensors"}
    manifest.write_text(json.dumps(data))
    refused(
        "sim",
        export,
        *SIM,
        touches=[export],
        match="must be the name of a .safetensors file in the export folder",
    )


# ---- a full disk -----------------------------------------------------------------------------
@pytest.mark.parametrize("into_export", [False, True])
def test_quantize_on_a_full_disk_is_one_line(refused, export, tmp_path, monkeypatch, into_export):
    import safetensors.numpy
    from safetensors import SafetensorError

    def full(*args, **kwargs):
        raise SafetensorError(
            "Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: \"No space left on device\" })"
        )

    monkeypatch.setattr(safetensors.numpy, "save_file", full)
    (export / QFILE).unlink()
    out = export / QFILE if into_export else tmp_path / "m" / "q.safetensors"
    (tmp_path / "m").mkdir()
    line = refused("quantize", export, "--out", out, touches=[export], match="No space left on device")
    assert f"{out}: not written" in line
    assert not [p.name for p in out.parent.iterdir() if out.name in p.name]  # nor a temporary


# ---- --headroom-bits -------------------------------------------------------------------------
def test_headroom_range_is_what_works_and_what_help_says(run_sbn, refused, export, tmp_path):
    from sbn.targets import get_target
    from sbn.targets.quantize import headroom_range

    low, high = headroom_range(get_target("loihi2").fixed_point)
    assert (low, high) == (1, 17)
    code, out, _ = run_sbn("quantize", "--help")
    assert code == 0 and f"{low}..{high} for loihi2" in " ".join(out.split())
    for bits in (low, high):
        code, _, err = run_sbn(
            "quantize", export, "--headroom-bits", bits, "--out", tmp_path / f"{bits}.safetensors"
        )
        assert code == 0, err
    for bits in (low - 1, high + 1, 24, -1):
        refused(
            "quantize",
            export,
            "--headroom-bits",
            bits,
            "--out",
            tmp_path / "no.safetensors",
            match=f"headroom of {bits} bits leaves no threshold in the formats of target 'loihi2': give {low}..{high} bits",
        )
    assert not (tmp_path / "no.safetensors").exists()
