"""Read the CIFAR python release's pickles without executing code from them.

The files are pickles of dicts holding numpy arrays and lists. A pickle can name any
callable; this unpickler resolves only the few globals that rebuild plain numpy arrays
and refuses everything else, so a tampered file raises instead of running code.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
from numpy._core.multiarray import _reconstruct  # numpy >= 1.26 (numpy.core is numpy 2's alias)

from sbn.errors import DataError

_ALLOWED = {  # a pickle names the module of the numpy that wrote it: either spelling
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,  # bytes pickled by Python 3, protocol 2
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def load_array_pickle(path) -> dict:
    """Unpickle ``path`` allowing only plain containers and numpy arrays."""
    try:
        with open(path, "rb") as f:
            data = _ArrayOnlyUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: not a CIFAR python-format batch ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a pickled dict, found {type(data).__name__}")
    # keys are ASCII in the real release; a key that is not UTF-8 only has to be reportable
    return {k.decode("utf8", "replace") if isinstance(k, bytes) else k: v for k, v in data.items()}
