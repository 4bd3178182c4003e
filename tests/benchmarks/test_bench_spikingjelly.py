"""The spikingjelly comparison's workers: the protocol, and the same topology on both sides
(a check of the script, not a figure; spikingjelly's side needs the benchmark's side venv)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parents[2] / "examples" / "benchmarks"
SIDE_PYTHON = HERE.parents[1] / ".bench-venv-sj" / "bin" / "python"
SPEC = {
    "width": 0.0625,
    "layers": [1, 1, 1, 1],
    "num_classes": 10,
    "time_steps": 2,
    "stem": 4,
    "planes": [4, 8, 16, 32],
    "decay": 0.5,
    "v_th": 1.0,
    "surrogate_width": 4.0,
    "threads": 1,
    "train_batch": 2,
    "infer_batch": 2,
}


def ask(python, spec):
    done = subprocess.run(
        [str(python), str(HERE / "bench_pair_worker.py"), json.dumps(spec)],
        input="train\ninfer\nquit\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert answers[0]["ready"] and all(a["seconds"] > 0 for a in answers[1:]) and len(answers) == 3
    return answers[0]


def test_our_worker_times_one_step_per_request():
    assert ask(sys.executable, {**SPEC, "impl": "sbn"})["params"] > 0


@pytest.mark.slow
@pytest.mark.skipif(not SIDE_PYTHON.exists(), reason="no .bench-venv-sj (bench_spikingjelly.py makes it)")
def test_spikingjelly_net_has_our_topology():
    ours = ask(sys.executable, {**SPEC, "impl": "sbn"})["params"]
    theirs = ask(SIDE_PYTHON, {**SPEC, "impl": "spikingjelly", "surrogate": "rect"})["params"]
    assert ours - theirs == 2 * 32 * 4  # only our head norm (weight and bias per feature)
