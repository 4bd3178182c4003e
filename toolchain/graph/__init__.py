"""NIR export, partitioning and the reference executor.

    executor      execute(graph, inputs) -> Execution: the ground truth of what a graph means
    conventions   the metadata keys and the dt / threshold / reset rules of exported graphs
"""

from sbn.graph.executor import SUPPORTED, Execution, execute

__all__ = ["SUPPORTED", "Execution", "execute"]
