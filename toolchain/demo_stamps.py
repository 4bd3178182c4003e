"""stamps.json of a demo folder: what each step was computed from, and what it wrote.

A step is reused when its key (a hash of its inputs) is unchanged *and* every file it wrote
still has the sha256 recorded when it was written: an output replaced or damaged since (by
hand, a full disk, another program) is made again, not reported as "(reused)".

    {"<step>": {"key": "<16 hex>", "outputs": {"<path in the folder>": "<sha256>"}}}
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sbn.checkpoint import file_sha256
from sbn.errors import ConfigError
from sbn.fileio import write_json

FILE = "stamps.json"


class Stamps:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FILE
        self.data = _read(self.path)
        self._outputs: dict[str, tuple[Path, ...]] = {}

    def claim(self) -> None:
        """Write the file now if the folder has none: a first run stopped before any step
        finished still leaves a folder that a later run recognises as the demo's."""
        if not self.path.exists():
            write_json(self.path, self.data)

    def fresh(self, step: str, key: str, *outputs: Path) -> bool:
        """Whether ``step`` may be reused; ``outputs`` (files or folders) are what it writes,
        hashed by ``mark`` once it has written them."""
        self._outputs[step] = outputs
        entry = self.data.get(step)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return False
        recorded = entry.get("outputs")
        return isinstance(recorded, dict) and recorded == self._digests(outputs)

    def mark(self, step: str, key: str) -> None:
        """Record that ``step`` ran with ``key`` and wrote what ``fresh`` was told."""
        self.data[step] = {"key": key, "outputs": self._digests(self._outputs.get(step, ()))}
        write_json(self.path, self.data)

    def _digests(self, outputs: tuple[Path, ...]) -> dict[str, str] | None:
        found = {}
        for path in outputs:
            if not path.exists():
                return None
            found[str(path.relative_to(self.folder))] = digest(path)
        return found


def digest(path: Path) -> str:
    """sha256 of a file; of a folder, over its files' names and sha256s."""
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{file.relative_to(path)}\0{file_sha256(file)}\n".encode())
    return h.hexdigest()


def _read(path: Path) -> dict:
    if not path.exists():
        return {}
    fix = "delete it or pass --fresh to redo every step"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable as the demo's stamps ({exc}); {fix}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of steps; {fix}")
    return data
