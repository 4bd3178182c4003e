"""The executor on NIR files other frameworks wrote (../shared/fixtures/nir-third-party)."""

from __future__ import annotations

import os
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sbn.graph import execute

# ../shared, as tests/conftest.py found it
FIXTURES = Path(os.environ["SBN_SHARED"]) / "fixtures" / "nir-third-party"


def test_norse_lif_reproduces_norse_traces():
    # lif_norse.csv columns: input spike, membrane voltage (after reset), output spike
    graph = nir.read(FIXTURES / "lif_norse.nir")
    table = np.loadtxt(FIXTURES / "lif_norse.csv", delimiter=",")
    res = execute(graph, table[:, :1, None], record=True, dt=1e-4)
    np.testing.assert_array_equal(res.outputs["output"][:, 0, 0], table[:, 2])
    # norse ran in float32: same trajectory to float32 precision
    np.testing.assert_allclose(res.voltages["1"][:, 0, 0], table[:, 1], atol=1e-7)
    assert table[:, 2].sum() == 4


def test_norse_lif_spikes_match_the_exact_solution():
    graph = nir.read(FIXTURES / "lif_norse.nir")
    exact = np.loadtxt(FIXTURES / "lif_exact.csv", delimiter=",")
    res = execute(graph, exact[:, :1, None], dt=1e-4)
    np.testing.assert_array_equal(res.outputs["output"][:, 0, 0], exact[:, 2])


def _if_torch(x: torch.Tensor, v: torch.Tensor):
    v = v + x  # sinabs' IAF: r = 1 at dt = 1, threshold 1, reset to 0
    z = (v > 1.0).double()
    return z, v * (1 - z)


def test_sinabs_cnn_matches_an_independent_torch_run():
    graph = nir.read(FIXTURES / "cnn_sinabs.nir")
    n = {k: graph.nodes[k] for k in graph.nodes}
    dense = ("0", "2", "5", "9", "11")
    w = {k: torch.from_numpy(np.asarray(n[k].weight, dtype=np.float64)) for k in dense}
    b = {k: torch.from_numpy(np.asarray(n[k].bias, dtype=np.float64)) for k in w}
    rng = np.random.default_rng(0)
    x = (rng.random((6, 2, 2, 34, 34)) < 0.3).astype(np.float64)
    res = execute(graph, x, dt=1.0)
    v = [0.0] * 5
    outs = []
    for t in range(x.shape[0]):
        h = F.conv2d(torch.from_numpy(x[t]), w["0"], b["0"], 2, 1)
        z, v[0] = _if_torch(h, v[0])
        z, v[1] = _if_torch(F.conv2d(z, w["2"], b["2"], 1, 1), v[1])
        z = F.avg_pool2d(z, 2) * 4
        z, v[2] = _if_torch(F.conv2d(z, w["5"], b["5"], 1, 1), v[2])
        z = (F.avg_pool2d(z, 2) * 4).flatten(1)
        z, v[3] = _if_torch(z @ w["9"].T + b["9"], v[3])
        z, v[4] = _if_torch(z @ w["11"].T + b["11"], v[4])
        outs.append(z.numpy())
    np.testing.assert_array_equal(res.outputs["output"], np.stack(outs))


@pytest.mark.parametrize("name", ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"])
def test_braille_rnn_recurrent_weights_see_the_previous_step(name):
    graph = nir.read(FIXTURES / f"{name}.nir")
    rng = np.random.default_rng(3)
    x = (rng.random((40, 2, 12)) < 0.3).astype(np.float64)
    dt = 1e-4
    res = execute(graph, x, dt=dt, record=True)

    def coeffs(node):
        return (
            dt / node.tau_syn,
            1 - dt / node.tau_mem,
            dt / node.tau_mem * node.r,
            node.w_in,
            node.v_threshold,
            node.v_reset,
        )

    def dense(node, h):
        y = h @ np.asarray(node.weight).T
        return y + node.bias if isinstance(node, nir.Affine) else y

    nodes = graph.nodes
    state = {k: [np.zeros((2, len(nodes[k].tau_syn)))] * 2 for k in ("lif1.lif", "lif2")}
    z1_prev = np.zeros((2, len(nodes["lif1.lif"].tau_syn)))
    outs = []
    for t in range(x.shape[0]):
        drive = {"lif1.lif": dense(nodes["fc1"], x[t]) + dense(nodes["lif1.w_rec"], z1_prev)}
        spikes = {}
        for k in ("lif1.lif", "lif2"):
            if k == "lif2":
                drive[k] = dense(nodes["fc2"], spikes["lif1.lif"])
            a_syn, decay, gain, w_in, thr, reset = coeffs(nodes[k])
            v, i = state[k]
            i = i + a_syn * (w_in * drive[k] - i)
            v = decay * v + gain * i
            z = v > thr
            state[k] = [np.where(z, reset, v), i]
            spikes[k] = z.astype(np.float64)
        z1_prev = spikes["lif1.lif"]
        outs.append(spikes["lif2"])
    np.testing.assert_array_equal(res.outputs["output"], np.stack(outs))
    assert res.trace["lif1.lif"].sum() > 0


def test_two_lif_neurons_start_at_rest_v_leak():
    graph = nir.read(FIXTURES / "two_lif_neurons.nir")
    # lif1 rests at v_leak = 1.2 > threshold 1: it fires from the first step on without input
    res = execute(graph, np.zeros((3, 1, 1)), dt=1e-4, record=True)
    assert res.trace["lif1"][0, 0, 0] == 1.0
