"""Before a command writes anything: claim its outputs.

``claim_outputs`` checks every path a command will read or write and holds its outputs until
the command ends: names the file system can hold, no output that is an input (or another
output) under another spelling, and an exclusive lock per output, so that a second run on
the same output stops at once instead of overwriting the first. The lock file is created
beside each output, which also proves early that the place is writable (a read-only disk
fails here, not after an hour of training).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sbn.errors import ConfigError
from sbn.fileio import refuse_overwriting_inputs
from sbn.output_lock import OutputLock

#: Linux's limits, used where the file system does not say its own
NAME_MAX = 255
PATH_MAX = 4096


@contextlib.contextmanager
def claim_outputs(
    outputs: dict[str, Any], inputs: Iterable[Any] = (), command: str = "sbn"
) -> Iterator[None]:
    """Check ``outputs`` (option name -> path or None) and ``inputs``, then lock every output
    for the duration of the ``with`` block; ``command`` is what a second run is told."""
    named = {flag: Path(p) for flag, p in outputs.items() if p is not None}
    read = [Path(p) for p in inputs if p is not None]
    for flag, path in [*named.items(), *(("input", p) for p in read)]:
        check_path_fits(flag, path)
    refuse_overwriting_inputs(named, read)
    with contextlib.ExitStack() as held:
        for flag, path in named.items():
            held.enter_context(OutputLock(path, command, flag))
        yield


def check_path_fits(flag: str, path: Path) -> None:
    """ConfigError for a path the file system cannot hold (too long, or a name too long
    for the lock and temporary files beside it)."""
    whole = len(os.fsencode(os.path.abspath(path)))
    if whole >= PATH_MAX:
        raise ConfigError(
            f"{flag}: the path is {whole} bytes long; paths take at most "
            f"{PATH_MAX - 1} (start it in a folder nearer the file)"
        )
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise ConfigError(
                f"{flag}: the name {part[:40]}... is {size} bytes long; a file name takes at most {NAME_MAX}"
            )
