"""Atomic writes: a file or folder appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); the result gets ordinary permissions
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; on success it replaces ``path``.

    An existing ``path`` is moved aside first and removed only after the rename succeeded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "content")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path: str | os.PathLike, what: str) -> Any:
    """Parse a JSON file; a missing, unreadable or malformed file is one ``ConfigError``
    naming the file and ``what`` it should hold."""
    from sbn.errors import ConfigError

    path = Path(path)
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None


#: the key every versioned document of the toolchain states its version under
VERSION_KEY = "schema"
#: the key files written before the toolchain settled on one name used instead
LEGACY_VERSION_KEY = "format"


def read_document(path: str | os.PathLike, schema: str | tuple[str, ...], what: str, *,
                  version_optional: bool = False) -> dict[str, Any]:
    """A versioned JSON or TOML document (``.toml`` is TOML, anything else JSON), checked to
    be a table whose ``"schema"`` is ``schema`` (or one of them). Every problem is one
    ``ConfigError`` naming the file, the key and the version expected. ``version_optional``:
    a document that states no version is taken as the current one (hand-written files)."""
    from sbn.errors import ConfigError

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
    try:
        if kind == "TOML":
            import tomli

            data = tomli.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # JSON/TOML decode errors are ValueErrors
        raise ConfigError(f"{path}: not valid {kind} ({exc})") from None
    check_version(data, schema, f"{path}", what, version_optional=version_optional)
    return data


def check_version(data: Any, schema: str | tuple[str, ...], where: str, what: str, *,
                  version_optional: bool = False) -> None:
    """ConfigError unless ``data`` is a table stating one of the ``schema`` versions."""
    from sbn.errors import ConfigError

    accepted = (schema,) if isinstance(schema, str) else tuple(schema)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: {what} must be a table (a JSON object) at the top, "
                          f"found {type(data).__name__}")
    found = data.get(VERSION_KEY, data.get(LEGACY_VERSION_KEY))
    if found is None and version_optional:
        return
    if found not in accepted:
        raise ConfigError(f"{where}: key {VERSION_KEY!r} is {found!r}; this sbn reads {what} "
                          f"with {VERSION_KEY} {' or '.join(repr(a) for a in accepted)}")


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` + ".lock" (a second holder waits): for a
    read-modify-write of a file that other runs may update at the same time."""
    import fcntl

    lock = Path(f"{path}.lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def refuse_overwriting_inputs(outputs: dict[str, Any], inputs: list[Any]) -> None:
    """ConfigError if an output path (by option name) is one of the inputs or another output,
    compared as resolved paths (``runs/../runs/x`` and a symlink are the same file)."""
    from sbn.errors import ConfigError

    taken = {Path(p).resolve(): str(p) for p in inputs if p is not None}
    for flag, path in outputs.items():
        if path is None:
            continue
        real = Path(path).resolve()
        if real in taken:
            raise ConfigError(f"{flag} {path} is {taken[real]}, which this command reads or writes; "
                              "choose another file")
        taken[real] = f"the file of another option ({path})"
