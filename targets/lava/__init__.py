"""Lava backend: NIR graphs as Lava processes, simulated on the CPU.

    simulate(graph, inputs)                 -> LavaRun: Output streams, latency, processes
    simulate_split(device, edge, images)    -> SplitRun: logits, bytes on the wire per sample
                                               (the payload crosses a ``sbn.wire.Link``)
    fast_run_cfg()                          Loihi2SimCfg with the toolchain's Conv/Dense models
    make_plan(graph, fuse)                  segments, start steps and alignment delays
    lava_lif_parameters(name, node, dt)     NIR LIF/IF -> Lava LIF kwargs, or MappingError

See docs/lava.md for the timing conventions (one step per Lava hop, alignment of residual
branches) and the payload's bit order.
"""

from sbn.targets.lava.fast_models import FAST_TAG, PyConvModelSbnFast, PyDenseModelSbnFast, fast_run_cfg
from sbn.targets.lava.lava_lif import lava_lif_parameters
from sbn.targets.lava.plan import FUSE_MODES, Plan, make_plan
from sbn.targets.lava.simulate import LavaRun, load_graph, simulate
from sbn.targets.lava.split import SplitRun, encode, simulate_split

__all__ = [
    "FAST_TAG",
    "FUSE_MODES",
    "LavaRun",
    "Plan",
    "PyConvModelSbnFast",
    "PyDenseModelSbnFast",
    "SplitRun",
    "encode",
    "fast_run_cfg",
    "lava_lif_parameters",
    "load_graph",
    "make_plan",
    "simulate",
    "simulate_split",
]
