"""SpikeBottleNet neuromorphic deployment toolchain.

The importable package ``sbn`` maps the repository's folders: ``toolchain/`` is ``sbn``
(export, partition, cost model, reports, CLI), ``models/`` is ``sbn.models`` (PyTorch
modules) and ``targets/`` is ``sbn.targets`` (neuromorphic backends).
"""

from sbn.errors import SbnError

__version__ = "0.1.0"

__all__ = ["SbnError", "__version__"]
