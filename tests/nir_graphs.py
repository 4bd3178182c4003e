"""Small recurrent NIR graphs shared by the executor and Lava tests."""

from __future__ import annotations

import nir
import numpy as np


def lif(n: int, threshold: float = 0.5) -> nir.LIF:
    return nir.LIF(tau=np.full(n, 2.0), r=np.full(n, 2.0), v_leak=np.zeros(n),
                   v_threshold=np.full(n, threshold))


def biased_recurrent_affine() -> nir.NIRGraph:
    """in -> w_in -> lif -> out, with lif -> w_rec -> lif, w_rec carrying a bias."""
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([2])}),
               "w_in": nir.Affine(weight=np.array([[1.0, 0.0], [0.0, 1.0]]), bias=np.zeros(2)),
               "lif": lif(2),
               "w_rec": nir.Affine(weight=np.array([[0.0, 0.5], [0.5, 0.0]]), bias=np.array([0.75, 0.0])),
               "out": nir.Output(output_type={"output": np.array([2])})},
        edges=[("in", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "out")])


def two_neuron_loop() -> nir.NIRGraph:
    """in -> a -> b -> a: both neurons on one cycle, b read out."""
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([1])}),
               "a": lif(1, 0.25), "b": lif(1, 0.25),
               "out": nir.Output(output_type={"output": np.array([1])})},
        edges=[("in", "a"), ("a", "b"), ("b", "a"), ("b", "out")])
