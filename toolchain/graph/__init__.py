"""NIR export, partitioning and the reference executor.

executor      execute(graph, inputs) -> Execution: the ground truth of what a graph means
schedule      the order, cycle cuts and input rules the executor and every backend share
node_types    the NIR node types the toolchain knows: role, flags, executor step
shapes        output shape of every node (filling in what third-party files leave out)
export        export_nir(model) -> NIRGraph: a spiking ResNet / SpikeBottleNet, exactly
partition     partition(graph, cut) -> (device, edge)
io            load_nir / save_nir (one-line GraphErrors), graph_differences
bundle        export_checkpoint(path, out): the folder `sbn export` writes
conventions   metadata keys and the dt / threshold / reset rules of exported graphs
phases        the polyphase layout a stride-s decoder is exported in
"""

from sbn.graph.executor import Execution, execute
from sbn.graph.io import graph_differences, load_nir, save_nir
from sbn.graph.node_types import SUPPORTED
from sbn.graph.partition import partition

__all__ = [
    "SUPPORTED",
    "Execution",
    "execute",
    "export_checkpoint",
    "export_nir",
    "graph_differences",
    "load_nir",
    "partition",
    "save_nir",
]


def __getattr__(name: str):
    # torch-dependent parts load on first use, so the executor alone stays light
    if name == "export_nir":
        from sbn.graph.export import export_nir

        return export_nir
    if name == "export_checkpoint":
        from sbn.graph.bundle import export_checkpoint

        return export_checkpoint
    raise AttributeError(f"module 'sbn.graph' has no attribute {name!r}")
