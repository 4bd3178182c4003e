"""NIR test graphs for placement, built with the nir API (weights are zero-stride views, so a
full-width ResNet50 costs no memory)."""

from __future__ import annotations

import os
from pathlib import Path

import nir
import numpy as np
import pytest

from sbn.targets.spec import Target

# ../shared, as tests/conftest.py found it
FIXTURES = Path(os.environ["SBN_SHARED"]) / "fixtures" / "nir-third-party"


def zeros(*shape):
    return np.broadcast_to(np.float32(0), shape)


def lif(*shape):
    """Placement reads only shapes; the parameters are ones any reader accepts (tau > 0)."""
    ones = np.ones(shape)
    return nir.LIF(tau=ones, r=ones, v_leak=zeros(*shape), v_threshold=ones)


def conv(cin, cout, k, stride=1, padding=0, input_shape=None):
    return nir.Conv2d(
        input_shape=input_shape,
        weight=zeros(cout, cin, k, k),
        stride=stride,
        padding=padding,
        dilation=1,
        groups=1,
        bias=zeros(cout),
    )


def resnet_graph(width=64, stages=(3, 4, 6, 3), size=32, classes=100, type_check=True):
    """Spiking bottleneck ResNet (CIFAR variant): stem, stages of bottleneck blocks whose last
    LIF sums the expand conv and the shortcut (a projection conv, or the block input), head."""
    nodes = {"input": nir.Input(input_type=np.array([3, size, size]))}
    edges = [("input", "stem.conv")]
    nodes["stem.conv"] = conv(3, width, 3, padding=1)
    nodes["stem.lif"] = lif(width, size, size)
    edges.append(("stem.conv", "stem.lif"))
    prev, cin, hw = "stem.lif", width, size
    for s, blocks in enumerate(stages):
        planes = width * 2**s
        for b in range(blocks):
            stride = 2 if (s > 0 and b == 0) else 1
            out_hw = hw // stride
            rb = f"s{s + 1}b{b + 1}"
            nodes[f"{rb}.conv1"] = conv(cin, planes, 1)
            nodes[f"{rb}.lif1"] = lif(planes, hw, hw)
            nodes[f"{rb}.conv2"] = conv(planes, planes, 3, stride=stride, padding=1)
            nodes[f"{rb}.lif2"] = lif(planes, out_hw, out_hw)
            nodes[f"{rb}.conv3"] = conv(planes, planes * 4, 1)
            nodes[f"{rb}.lif3"] = lif(planes * 4, out_hw, out_hw)
            edges += [
                (prev, f"{rb}.conv1"),
                (f"{rb}.conv1", f"{rb}.lif1"),
                (f"{rb}.lif1", f"{rb}.conv2"),
                (f"{rb}.conv2", f"{rb}.lif2"),
                (f"{rb}.lif2", f"{rb}.conv3"),
                (f"{rb}.conv3", f"{rb}.lif3"),
            ]
            if b == 0:
                nodes[f"{rb}.down"] = conv(cin, planes * 4, 1, stride=stride)
                edges += [(prev, f"{rb}.down"), (f"{rb}.down", f"{rb}.lif3")]
            else:
                edges.append((prev, f"{rb}.lif3"))  # identity shortcut: summed into lif3
            prev, cin, hw = f"{rb}.lif3", planes * 4, out_hw
    nodes["head.pool"] = nir.AvgPool2d(
        kernel_size=np.array([hw, hw]), stride=np.array([hw, hw]), padding=np.array([0, 0])
    )
    nodes["head.flat"] = nir.Flatten(input_type=None, start_dim=0, end_dim=-1)
    nodes["head.fc"] = nir.Affine(weight=zeros(classes, cin), bias=zeros(classes))
    nodes["output"] = nir.Output(output_type=np.array([classes]))
    edges += [
        (prev, "head.pool"),
        ("head.pool", "head.flat"),
        ("head.flat", "head.fc"),
        ("head.fc", "output"),
    ]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=type_check)


def dense_chain(sizes, names=None):
    """Input -> (Linear -> LIF) per size; the last LIF feeds the Output."""
    names = names or [f"l{i}" for i in range(1, len(sizes))]
    nodes = {"in": nir.Input(input_type=np.array([sizes[0]]))}
    edges, prev = [], "in"
    for name, (a, b) in zip(names, zip(sizes, sizes[1:])):
        nodes[f"{name}.fc"] = nir.Linear(weight=zeros(b, a))
        nodes[name] = lif(b)
        edges += [(prev, f"{name}.fc"), (f"{name}.fc", name)]
        prev = name
    nodes["out"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "out"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def toy_target(**overrides):
    """A small target whose numbers make hand computation easy."""
    fields = dict(
        name="toy",
        description="test target",
        chips=1,
        cores_per_chip=4,
        neurons_per_core=100,
        synaptic_memory_bits_per_core=10_000 * 8,
        weight_bits=8,
        shared_conv_weights=False,
        energy_per_synaptic_op_j=1e-12,
        energy_per_neuron_update_j=2e-12,
    )
    fields.update(overrides)
    return Target(**fields)


@pytest.fixture(scope="session")
def resnet50():
    return resnet_graph()


@pytest.fixture
def make_target():
    """Factory of small hand-computable targets: ``make_target(neurons_per_core=...)``."""
    return toy_target


@pytest.fixture
def nirb():
    """The graph builders of this conftest, for tests (conftest is not importable in importlib mode)."""
    import types

    return types.SimpleNamespace(
        zeros=zeros,
        lif=lif,
        conv=conv,
        resnet_graph=resnet_graph,
        dense_chain=dense_chain,
        fixtures=FIXTURES,
    )
