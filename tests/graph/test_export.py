"""export_nir: the exported graph, stepped by the reference executor, is the PyTorch model."""

from __future__ import annotations

import copy

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sbn.errors import ExportError
from sbn.graph import execute
from sbn.graph import export as export_module
from sbn.graph.conventions import lif_threshold
from sbn.graph.export import export_nir, lif_node
from sbn.graph.fold import fold_conv
from sbn.graph.phases import conv_transpose_to_phases, from_phases
from sbn.models import LIFParameters, build_model, lif_multistep
from sbn.models.neurons import LIF
from sbn.models.norm import TdBatchNorm


def run_both(model: nn.Module, images: torch.Tensor):
    """(model logits, LIF spikes by module path, executor result, graph)."""
    graph = export_nir(model)
    spikes: dict[str, np.ndarray] = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: spikes.__setitem__(n, o.numpy()))
        for n, m in model.named_modules()
        if isinstance(m, LIF)
    ]
    try:
        with torch.no_grad():
            logits = model(images).numpy()
    finally:
        for h in hooks:
            h.remove()
    t = model.config.time_steps
    result = execute(graph, np.broadcast_to(images.double().numpy(), (t, *images.shape)), record=True)
    return logits, spikes, result, graph


def spikes_by_module(graph: nir.NIRGraph, result) -> dict[str, np.ndarray]:
    """The executor's spikes per PyTorch module path, phases undone."""
    out = {}
    for name, node in graph.nodes.items():
        if isinstance(node, (nir.LIF, nir.IF)):
            p = int(node.metadata.get("sbn.phases", 1))
            out[str(node.metadata["sbn.module"])] = from_phases(result.trace[name], p)
    return out


@pytest.mark.parametrize(
    "fixture",
    [
        "spiking_backbone",
        "sbn_stride1",
        "sbn_stride2",
        "sbn_last_stride2",
        "if_backbone",
    ],
)
def test_float64_spikes_identical_at_every_lif(fixture, request):
    model = copy.deepcopy(request.getfixturevalue(fixture)).double()
    images = torch.rand(3, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    logits, torch_spikes, result, graph = run_both(model, images)
    nir_spikes = spikes_by_module(graph, result)
    assert set(nir_spikes) == set(torch_spikes)
    for name, want in torch_spikes.items():
        assert 0.02 < want.mean() < 0.6, f"{name} hardly fires; the test would prove little"
        np.testing.assert_array_equal(nir_spikes[name], want, err_msg=name)
    per_step = result.outputs["output"]  # [T, B, classes]; the consumer averages over T
    np.testing.assert_allclose(per_step.mean(axis=0), logits, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(per_step.mean(axis=0).argmax(1), logits.argmax(1))


def test_float32_model_agrees_except_for_rare_rounding_flips(sbn_stride2):
    """The float32 model rounds differently from the float64 executor; spikes that land
    within float32 rounding of the threshold may flip. Report the fraction: expect ~0."""
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(8))
    logits, torch_spikes, result, graph = run_both(sbn_stride2, images)
    nir_spikes = spikes_by_module(graph, result)
    differing = sum(int((nir_spikes[n] != s).sum()) for n, s in torch_spikes.items())
    total = sum(s.size for s in torch_spikes.values())
    print(
        f"float32 model vs float64 executor: {differing} of {total} spikes differ ({differing / total:.2e})"
    )
    assert differing / total < 1e-3
    np.testing.assert_allclose(result.outputs["output"].mean(0), logits, atol=1e-3)


def test_node_names_are_readable_and_stable(sbn_stride1):
    graph = export_nir(sbn_stride1)
    names = list(graph.nodes)
    assert names[:3] == ["input", "stem.conv", "stem.lif"]
    assert names[-4:] == ["head.pool", "head.flatten", "head.fc", "output"]
    for name in [
        "rb1.conv1",
        "rb1.lif1",
        "rb1.conv3",
        "rb1.downsample",
        "rb1.lif3",
        "rb3.lif3",
        "encoder.conv",
        "encoder.lif",
        "decoder.conv",
        "decoder.lif",
        "rb4.downsample",
    ]:
        assert name in graph.nodes
    assert "rb3.downsample" not in graph.nodes  # identity shortcut
    assert sorted(s for s, d in graph.edges if d == "rb3.lif3") == ["rb2.lif3", "rb3.conv3"]
    assert sorted(s for s, d in graph.edges if d == "rb4.lif3") == ["rb4.conv3", "rb4.downsample"]
    assert graph.nodes["encoder.lif"].metadata["sbn.module"] == "bottleneck.enc_act"
    assert list(export_nir(sbn_stride1).nodes) == names


def test_metadata_states_the_discretisation(sbn_stride1):
    meta = export_nir(sbn_stride1).metadata
    assert meta["sbn.schema"] == "sbn.nir/1"
    assert meta["sbn.dt"] == 1.0
    assert meta["sbn.time_steps"] == 4
    assert meta["sbn.integration"] == "forward-euler"
    assert "v > v_threshold" in meta["sbn.threshold"] and "hard" in meta["sbn.reset"]
    assert "mean over T" in meta["sbn.readout"]
    assert meta["sbn.split"] == "RB3" and meta["sbn.cut"] == "encoder.lif"


# ---- the pieces, exactly -----------------------------------------------------------------
def _random_bn(channels: int, alpha: float = 1.0) -> TdBatchNorm:
    bn = TdBatchNorm(channels, alpha=alpha, v_th=0.8).double().eval()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.3, 3)
        bn.weight.uniform_(-2, 2)
        bn.bias.uniform_(-1, 1)
    return bn


@pytest.mark.parametrize("bias", [False, True])
def test_tdbn_folds_into_the_conv_exactly(bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(5, 7, 3, stride=2, padding=1, bias=bias).double()
    bn = _random_bn(7, alpha=2**-0.5)
    x = torch.randn(4, 5, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        want = bn(conv(x)[None])[0]
    weight, b = fold_conv(conv, bn)
    got = F.conv2d(x, torch.from_numpy(weight), torch.from_numpy(b), 2, 1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-12)


def test_tdbn_folds_into_a_transposed_conv_exactly():
    torch.manual_seed(1)
    conv = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, bias=False).double()
    bn = _random_bn(6)
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        want = bn(conv(x)[None])[0]
    weight, b = fold_conv(conv, bn)
    got = F.conv_transpose2d(x, torch.from_numpy(weight), torch.from_numpy(b), 2, 1, 1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("decay,v_th", [(0.5, 1.0), (0.25, 0.75), (0.9, 2.0), (1.0, 1.0)])
def test_lif_discretisation_is_exact_ties_included(decay, v_th):
    params = LIFParameters(decay=decay, v_th=v_th)
    node = lif_node(params, (6,))
    assert isinstance(node, nir.IF if decay == 1.0 else nir.LIF)
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 1.5 * v_th, size=(40, 3, 6))
    x[0, :, :2] = v_th  # u = V_th exactly at the first step: the model fires (u >= V_th)
    x[5, :, 2] = v_th
    graph = nir.NIRGraph.from_list(node)
    graph.metadata = {"sbn.dt": 1.0}
    got = execute(graph, x).outputs["output"]
    want = lif_multistep(torch.from_numpy(x), params).numpy()
    np.testing.assert_array_equal(got, want)
    assert got[0, :, :2].all()
    assert float(node.v_threshold[0]) == lif_threshold(v_th) < v_th


@pytest.mark.parametrize(
    "stride,kernel,padding,output_padding",
    [
        (1, 3, 1, 0),
        (2, 3, 1, 1),
        (2, 1, 0, 1),
        (2, 5, 2, 1),
        (4, 3, 1, 3),
        (1, 5, 2, 0),
    ],
)
def test_transposed_conv_as_phase_conv_is_exact(stride, kernel, padding, output_padding):
    rng = np.random.default_rng(stride * 10 + kernel)
    x = rng.normal(size=(2, 5, 4, 4))
    w = rng.normal(size=(5, 3, kernel, kernel))
    want = F.conv_transpose2d(
        torch.from_numpy(x), torch.from_numpy(w), None, stride, padding, output_padding
    ).numpy()
    assert want.shape[-1] == 4 * stride  # every case above is a phase layout: s x the input
    k, reach = conv_transpose_to_phases(w, stride, padding)
    if stride == 1 and kernel == 3:  # the familiar form: flipped, transposed kernel
        np.testing.assert_array_equal(k, w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
        assert reach == kernel - 1 - padding
    got = F.conv2d(torch.from_numpy(x), torch.from_numpy(k), None, 1, reach).numpy()
    np.testing.assert_allclose(from_phases(got, stride), want, rtol=0, atol=1e-12)


# ---- refusals ----------------------------------------------------------------------------
def test_ann_models_are_refused(make_config):
    model = build_model(make_config(kind="ann"))
    with pytest.raises(ExportError, match="NIR export is for spiking networks"):
        export_nir(model)


def test_unsupported_module_is_named_with_the_supported_list(spiking_backbone):
    model = copy.deepcopy(spiking_backbone)
    model.blocks[1].sn2 = nn.ReLU()
    with pytest.raises(ExportError) as info:
        export_nir(model)
    message = str(info.value)
    assert "module 'blocks.1.sn2' (ReLU) is not supported" in message
    assert "TdBatchNorm" in message and "LIF" in message and "\n" not in message


def test_impractically_large_node_is_refused_by_name(sbn_stride2, monkeypatch):
    monkeypatch.setattr(export_module, "MAX_NODE_PARAMS", 1000)
    with pytest.raises(ExportError, match=r"layer '.*' would become a NIR node of [\d,]+ parameters"):
        export_nir(sbn_stride2)


def test_not_a_model_is_refused():
    with pytest.raises(ExportError, match="cannot export a Linear"):
        export_nir(nn.Linear(2, 2))
