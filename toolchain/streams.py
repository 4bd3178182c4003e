"""Input and output streams of a NIR graph as numpy files.

    feeds = read_streams(Path("x.npz"), {"input": (2, 34, 34)})  # Input name -> [T, B, *shape]
    write_streams(Path("y.npz"), run.outputs)                    # Output name -> [T, B, ...]

An ``.npy`` file feeds a graph with one Input node: ``[T, *in]`` (one sample) or
``[T, B, *in]``. An ``.npz`` file holds one array per Input node, keyed by its name, each of
either form. Arrays are read without pickle (``allow_pickle=False``): loading never runs code.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from sbn.errors import ConfigError, DataError
from sbn.fileio import atomic_path

#: the most values an input file may hold (a bound checked before the data is read:
#: 2**31 float64 values are 16 GiB)
MAX_VALUES = 2**31


def read_streams(path: Path, inputs: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Input name -> float64 [T, B, *shape] from ``path`` (.npy or .npz)."""
    path = Path(path)
    if path.suffix not in (".npy", ".npz"):
        raise DataError(
            f"{path}: input streams come as .npy (one Input) or .npz (by Input name), "
            f"not {path.suffix or 'a file without suffix'}"
        )
    if path.suffix == ".npy":
        if len(inputs) != 1:
            raise DataError(
                f"{path}: the graph has {len(inputs)} Input nodes ({', '.join(inputs)}); "
                "give an .npz with one array per Input name"
            )
        ((name, shape),) = inputs.items()
        return {name: _as_stream(_load_npy(path), name, shape, path)}
    arrays = _load_npz(path)
    missing, extra = sorted(set(inputs) - set(arrays)), sorted(set(arrays) - set(inputs))
    if missing or extra:
        raise DataError(
            f"{path}: arrays {sorted(arrays)} do not match the graph's Input nodes "
            f"{sorted(inputs)} (missing {missing}, unknown {extra})"
        )
    feeds = {name: _as_stream(arrays[name], name, shape, path) for name, shape in inputs.items()}
    if len({f.shape[:2] for f in feeds.values()}) > 1:
        raise DataError(
            f"{path}: the inputs disagree on [T, B]: { {n: f.shape[:2] for n, f in feeds.items()} }"
        )
    return feeds


def refuse_replacing_streams(path: Path, outputs: list[str], flag: str = "--out") -> None:
    """ConfigError unless ``path`` is new or holds output streams of a graph with these
    ``outputs`` (an earlier run's): an .npz of inputs, weights or anything else is kept."""
    path = Path(path)
    if not path.exists():
        return
    try:  # the archive's member names (np.savez stores NAME.npy), nothing loaded
        with zipfile.ZipFile(path) as archive:
            names = {n.removesuffix(".npy") for n in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        names = set()
    if not names or not names <= set(outputs):
        raise ConfigError(
            f"{flag} {path} exists and holds no output streams of this graph (Output nodes "
            f"{', '.join(outputs)}); it replaces only an earlier run's: choose another file"
        )


def write_streams(path: Path, streams: dict[str, np.ndarray]) -> None:
    """Save ``streams`` (name -> array) as an .npz, atomically.

    Made in memory and written in one go: a zip file whose disk filled up mid-write printed
    a traceback from its destructor after the one-line error."""
    image = io.BytesIO()
    np.savez(image, **streams)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(image.getbuffer())


def _as_stream(x: np.ndarray, name: str, shape: tuple[int, ...], path: Path) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: input {name!r} has dtype {x.dtype}; numbers (bool, int, float) expected")
    want = tuple(shape)
    if tuple(x.shape[1:]) == want:
        x = x[:, None]  # one sample
    elif tuple(x.shape[2:]) != want:
        dims = ", ".join(map(str, want))
        raise DataError(
            f"{path}: input {name!r} has shape {tuple(x.shape)}; expected [T, {dims}] or [T, B, {dims}]"
        )
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise DataError(f"{path}: input {name!r} has no time step or no sample (shape {tuple(x.shape)})")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: input {name!r} holds inf or nan")
    return x


def _load_npy(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as handle:
            _check_header(handle, path)
        return np.load(path, allow_pickle=False)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise DataError(f"{path}: not a numeric .npy array ({exc})") from None


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {}
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    raise DataError(f"{path}: member {member!r} is not a numpy array")
                with archive.open(member) as handle:
                    _check_header(handle, path)
                with archive.open(member) as handle:
                    arrays[member[:-4]] = np.lib.format.read_array(handle, allow_pickle=False)
            return arrays
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a valid .npz of numeric arrays ({exc})") from None


def _check_header(handle, path: Path) -> None:
    """Refuse object arrays and absurd sizes from the header, before reading any data."""
    fmt = np.lib.format
    version = fmt.read_magic(handle)
    reader = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
    if reader is None:
        raise DataError(f"{path}: .npy format version {version} is not supported (1.0 and 2.0 are)")
    shape, _, dtype = reader(handle)
    if dtype.hasobject:
        raise DataError(f"{path}: holds Python objects; numeric arrays only (nothing is unpickled)")
    if int(np.prod(shape, dtype=np.float64)) > MAX_VALUES:
        raise DataError(
            f"{path}: an array of shape {shape} is larger than the {MAX_VALUES:,} values an input may hold"
        )
