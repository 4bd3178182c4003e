"""Where the project's shared material (../shared: docs, third-party NIR fixtures) is.

CI clones the repository with ../shared beside the clone. A clone made elsewhere (e.g. into a
temporary folder) finds it beside the repository it was cloned from. ``SBN_SHARED`` overrides
both. Test modules read the result from ``os.environ["SBN_SHARED"]``: this file is loaded
before any of them.
"""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    candidates = [REPO.parent / "shared"]
    origin = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True).stdout.strip()
    if origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / "shared")
    return next((c for c in candidates if c.is_dir()), candidates[0])


os.environ.setdefault("SBN_SHARED", str(_shared_dir()))
