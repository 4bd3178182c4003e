"""Atomic writes: a file or folder appears complete under its final name, or not at all.

Temporary files and folders sit beside their target under a hidden name that records who
made them (``.NAME.DIGEST.HOST-PID.RANDOM.tmp``): an interrupted run removes its own on the
way out (Ctrl-C and SIGTERM unwind through ``finally``), and one that could not (``kill -9``,
a power cut) leaves names whose process is gone, which the next write of the same target
sweeps away. Names stay under the file system's 255 bytes however long the target's is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: bytes of the target's name kept in a temporary name (the rest is ~40 bytes of tags)
_NAME_BYTES = 96
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:4]


def hidden_sibling(path: str | os.PathLike, kind: str) -> Path:
    """``.NAME.DIGEST.<kind>`` beside ``path``: a private name for ``path``'s helpers (its
    lock file, its temporaries), unique to ``path`` and short whatever ``path``'s length."""
    path = Path(path)
    return path.parent / f"{_tag(path.name)}{kind}"


def _tag(name: str) -> str:
    raw = os.fsencode(name)
    short = raw[:_NAME_BYTES].decode("utf8", "ignore")  # whole characters only
    return f".{short}.{hashlib.sha1(raw).hexdigest()[:8]}."


def _owner_prefix(path: Path) -> str:
    return f"{_tag(path.name)}{_HOST}-{os.getpid()}."


def sweep_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by processes of this host that no longer run;
    returns what was removed."""
    path = Path(path)
    tag = _tag(path.name)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(tag) or not entry.name.endswith((".tmp", ".old")):
            continue
        host, _, pid = entry.name[len(tag) :].partition(".")[0].partition("-")
        if host != _HOST or not pid.isdigit() or _running(int(pid)):
            continue
        stale = Path(entry.path)
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    An ``OSError`` on the way (a read-only or full disk) is an ``OutputError`` naming ``path``.
    """
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=_owner_prefix(path), suffix=".tmp", dir=path.parent)
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
    from sbn.errors import OutputError

    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temporaries(path)
        prefix = _owner_prefix(path)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=path.parent))
        try:
            yield tmp
            old = None
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=prefix, suffix=".old", dir=path.parent))
                os.replace(path, old / "content")
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except OutputError as exc:  # a file written inside: named where it was going
            raise OutputError(str(exc).replace(str(tmp), str(path), 1)) from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an ``OSError`` while ``path`` is written into one ``OutputError`` line."""
    from sbn.errors import OutputError

    try:
        yield
    except OSError as exc:
        raise OutputError(f"{path}: not written ({describe_os_error(exc)})") from None


def describe_os_error(exc: OSError) -> str:
    """``file: reason`` of an OSError, without Python's ``[Errno N]`` noise."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{short_path(exc.filename)}: {reason}" if exc.filename else reason


def short_path(path: Any, keep: int = 120) -> str:
    """``path`` as text, its middle elided past ``keep`` characters (messages stay one line
    that a terminal can show)."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    if len(text) <= keep:
        return text
    return f"{text[: keep // 2]}...{text[-keep // 2 :]}"


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


#: the key every versioned document of the toolchain states its version under
VERSION_KEY = "schema"
#: the key files written before the toolchain settled on one name used instead
LEGACY_VERSION_KEY = "format"


def read_document(
    path: str | os.PathLike, schema: str | tuple[str, ...], what: str, *, version_optional: bool = False
) -> dict[str, Any]:
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


def check_version(
    data: Any, schema: str | tuple[str, ...], where: str, what: str, *, version_optional: bool = False
) -> None:
    """ConfigError unless ``data`` is a table stating one of the ``schema`` versions."""
    from sbn.errors import ConfigError

    accepted = (schema,) if isinstance(schema, str) else tuple(schema)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: {what} must be a table (a JSON object) at the top, found {type(data).__name__}"
        )
    found = data.get(VERSION_KEY, data.get(LEGACY_VERSION_KEY))
    if found is None and version_optional:
        return
    if found not in accepted:
        raise ConfigError(
            f"{where}: key {VERSION_KEY!r} is {found!r}; this sbn reads {what} "
            f"with {VERSION_KEY} {' or '.join(repr(a) for a in accepted)}"
        )


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock beside ``path`` (a second holder waits): for a
    read-modify-write of a file that other runs may update at the same time."""
    import fcntl

    with open(hidden_sibling(path, "update.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def refuse_overwriting_inputs(outputs: dict[str, Any], inputs: list[Any]) -> None:
    """ConfigError if an output path (by option name) is one of the inputs or another output,
    by any spelling: relative or absolute, through a symlink, or a hard link to the same file."""
    from sbn.errors import ConfigError

    taken = {same_file_key(p): f"the input {p}" for p in inputs if p is not None}
    for flag, path in outputs.items():
        if path is None:
            continue
        key = same_file_key(path)
        if key in taken:
            raise ConfigError(
                f"{flag} {path} is {taken[key]}, which this command reads or writes; choose another file"
            )
        taken[key] = f"the file of {flag} ({path})"


def same_file_key(path: str | os.PathLike) -> tuple:
    """Equal for two spellings of one file: (device, inode) where it exists, else the
    resolved path (symlinks and ``..`` followed)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return ("path", str(Path(path).resolve()))
    return ("inode", st.st_dev, st.st_ino)


#: a key absent from a document (``shown_json`` says "missing")
MISSING = object()


def shown_json(value: Any) -> str:
    """A value as the JSON it was read from (shortened to 60 characters), or 'missing'."""
    if value is MISSING:
        return "missing"
    return _shortened(json.dumps(value))


def shown(value: Any) -> str:
    """A value as Python writes it (``repr``), shortened to 60 characters: for messages on
    values that need not be JSON (arrays, numbers read from a tensor file)."""
    return _shortened(repr(value))


def is_whole_number(value: Any) -> bool:
    """An ``int`` and not a ``bool``: JSON's ``true`` is no 1, though Python's is."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_int_or_float(value: Any) -> bool:
    """An ``int`` or ``float`` and not a ``bool``, NaN and the infinities included: a
    value a diverged run may hold (a loss), where ``is_finite_number`` would refuse it."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """An ``int`` or ``float`` and not a ``bool``, NaN and the infinities excluded."""
    return is_int_or_float(value) and math.isfinite(value)


def _shortened(text: str, keep: int = 60) -> str:
    return text if len(text) <= keep else text[: keep - 3] + "..."
