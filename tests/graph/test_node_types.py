"""One table of NIR node types: every consumer reads it, an unknown type is refused by name."""

from __future__ import annotations

from dataclasses import dataclass, field

import nir
import numpy as np
import pytest

from sbn.errors import GraphError, SbnError
from sbn.graph import execute, node_types
from sbn.graph.shapes import infer_shapes


@dataclass(eq=False)
class Mystery(nir.NIRNode):
    """A node type some other framework invented."""

    input_type: dict = field(default_factory=lambda: {"input": np.array([2])})
    output_type: dict = field(default_factory=lambda: {"output": np.array([2])})
    metadata: dict = field(default_factory=dict)


def mystery_graph() -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([2])}),
            "odd": Mystery(),
            "out": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("in", "odd"), ("odd", "out")],
        type_check=False,
    )


def test_every_nir_node_class_is_in_the_table():
    import inspect

    classes = {
        c
        for _, c in inspect.getmembers(nir, inspect.isclass)
        if issubclass(c, nir.NIRNode) and c not in (nir.NIRNode, nir.NIRGraph)
    }
    assert classes == set(node_types.TYPES)


def test_lava_runs_every_type_of_the_table():
    from sbn.targets.lava import ops

    assert set(ops.BUILDERS) | set(ops.SHARED) == set(node_types.TYPES)
    assert not set(ops.BUILDERS) & set(ops.SHARED)


def test_roles_and_flags_by_hand():
    assert set(node_types.SPIKING) == {nir.LIF, nir.IF, nir.CubaLIF, nir.Threshold}
    assert set(node_types.STATEFUL) == {nir.LIF, nir.IF, nir.LI, nir.I, nir.CubaLIF, nir.CubaLI, nir.Delay}
    assert set(node_types.COUNTED) == {
        nir.Affine,
        nir.Linear,
        nir.Conv1d,
        nir.Conv2d,
        nir.SumPool2d,
        nir.AvgPool2d,
    }
    assert {node_types.TYPES[t].role for t in node_types.TYPES} == {"io", "neuron", "synapse", "route"}


WHERE = {
    "executor": lambda g: execute(g, np.zeros((1, 1, 2))),
    "shapes": lambda g: infer_shapes(g),
    "lava plan": lambda g: __import__("sbn.targets.lava", fromlist=["make_plan"]).make_plan(g),
    "mapper": lambda g: __import__("sbn.targets.groups", fromlist=["network_from_nir"]).network_from_nir(g),
    "energy": lambda g: __import__("sbn.energy.graph_energy", fromlist=["graph_energy"]).graph_energy(
        g,
        snn=[],
        ann=__import__("sbn.energy", fromlist=["resolve_preset"]).resolve_preset("45nm"),
        uniform=0.1,
    ),
}


@pytest.mark.parametrize("where", sorted(WHERE))
def test_an_unknown_type_is_refused_by_name_everywhere(where):
    with pytest.raises(SbnError, match=r"'?odd'?.*(type )?Mystery"):
        WHERE[where](mystery_graph())


def test_lookup_names_the_supported_types():
    with pytest.raises(
        GraphError,
        match=r"node 'odd' has NIR type Mystery, which sbn does not "
        r"support \(supported: Affine, AvgPool2d, .*LIF",
    ):
        node_types.lookup("odd", Mystery())
