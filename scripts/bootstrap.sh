#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with the pinned
# dependencies from requirements.lock, and install this package into it (editable).
# Idempotent: a stamp file records the lock's hash, so a second call costs nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SBN_VENV:-$root/.venv}"
lock="$root/requirements.lock"
stamp="$venv/.sbn-installed"

find_python() {
    # lava-nc 0.10.0 runs only on Python 3.10
    local candidate
    for candidate in "${SBN_PYTHON:-}" python3.10; do
        if [[ -n "$candidate" ]] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    for candidate in "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.10*/bin/python3.10 \
                     /usr/bin/python3.10 /usr/local/bin/python3.10; do
        if [[ -x "$candidate" ]]; then echo "$candidate"; return 0; fi
    done
    return 1
}

# the checkout's path is part of the stamp on purpose: a venv is not relocatable (its
# scripts' shebangs and the editable install name the path), so a moved checkout reinstalls
want="$( { cat "$lock" "$root/pyproject.toml"; echo "$root"; } | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

python="$(find_python)" || { echo "error: Python 3.10 not found (lava-nc 0.10.0 needs exactly 3.10); set SBN_PYTHON=/path/to/python3.10" >&2; exit 1; }
echo "setting up $venv with $python (pinned install from requirements.lock, a few minutes the first time)" >&2
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade "pip>=24" >&2
"$venv/bin/python" -m pip install --quiet -r "$lock" >&2
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$root" >&2
echo "$want" > "$stamp"
