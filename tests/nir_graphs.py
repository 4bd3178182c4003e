"""Small NIR graphs shared by the executor, Lava, energy and CLI tests (hand-computable)."""

from __future__ import annotations

import nir
import numpy as np


def lif(n: int, threshold: float = 0.5) -> nir.LIF:
    return nir.LIF(
        tau=np.full(n, 2.0), r=np.full(n, 2.0), v_leak=np.zeros(n), v_threshold=np.full(n, threshold)
    )


def biased_recurrent_affine() -> nir.NIRGraph:
    """in -> w_in -> lif -> out, with lif -> w_rec -> lif, w_rec carrying a bias."""
    return nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([2])}),
            "w_in": nir.Affine(weight=np.array([[1.0, 0.0], [0.0, 1.0]]), bias=np.zeros(2)),
            "lif": lif(2),
            "w_rec": nir.Affine(weight=np.array([[0.0, 0.5], [0.5, 0.0]]), bias=np.array([0.75, 0.0])),
            "out": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("in", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "out")],
    )


def two_neuron_loop() -> nir.NIRGraph:
    """in -> a -> b -> a: both neurons on one cycle, b read out."""
    return nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([1])}),
            "a": lif(1, 0.25),
            "b": lif(1, 0.25),
            "out": nir.Output(output_type={"output": np.array([1])}),
        },
        edges=[("in", "a"), ("a", "b"), ("b", "a"), ("b", "out")],
    )


def small_graph() -> nir.NIRGraph:
    """input (1x4x4) -> conv (2 out, 3x3, pad 1) -> lif1 -> pool (2x2 sum) -> flat -> fc (3x8)
    -> lif2 -> out."""
    lif = lambda shape: nir.LIF(
        tau=np.full(shape, 2.0), r=np.full(shape, 2.0), v_leak=np.zeros(shape), v_threshold=np.ones(shape)
    )
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
            "conv": nir.Conv2d(
                input_shape=(4, 4),
                weight=np.ones((2, 1, 3, 3)),
                stride=1,
                padding=1,
                dilation=1,
                groups=1,
                bias=np.zeros(2),
            ),
            "lif1": lif((2, 4, 4)),
            "pool": nir.SumPool2d(
                kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
            ),
            "flat": nir.Flatten(start_dim=0, end_dim=-1, input_type={"input": np.array([2, 2, 2])}),
            "fc": nir.Affine(weight=np.ones((3, 8)), bias=np.zeros(3)),
            "lif2": lif((3,)),
            "out": nir.Output(output_type={"output": np.array([3])}),
        },
        edges=[
            ("input", "conv"),
            ("conv", "lif1"),
            ("lif1", "pool"),
            ("pool", "flat"),
            ("flat", "fc"),
            ("fc", "lif2"),
            ("lif2", "out"),
        ],
        type_check=False,
    )
