#!/usr/bin/env bash
# Everything this project checks on a GPU, in one command of under 10 minutes: the command a
# session that is lent a device machine runs first (docs/training.md, "GPU figures").
#
#     bash examples/benchmarks/gpu_check.sh OUT_DIR [BUDGET_S]     # from the repository root
#
# That machine has no network and no copy of .venv: the project runs there under the
# machine's own python3 and packages (Python 3.12 and its torch, not the pins of
# requirements.lock, which hold for lava-nc's Python 3.10). So this installs the package
# without dependencies into a temporary folder; nothing it needs there (torch, numpy,
# safetensors, scikit-learn, click, rich, pytest) is missing from that machine's image, and
# nothing it runs imports lava, nir or ray. Then, each written to OUT_DIR as it goes:
#   versions.txt   Python, torch, CUDA, the GPUs
#   test_gpu.log   tests/train/test_gpu.py (GPU training in each precision and layout read
#                  back on the CPU, the Triton-compiled LIF against the eager one, the device
#                  loader against the CPU's), which skip themselves without a GPU
#   bench_gpu.json / bench_gpu.log
#                  examples/benchmarks/bench_gpu.py with --budget-s BUDGET_S (default 240)
# SBN_CHECK_PYTHON picks the interpreter (default python3); SBN_CHECK_SMOKE=1 runs the
# benchmark's --device cpu --smoke paths instead of the figures (how it is tested without a
# GPU, under a Python 3.12 environment like that machine's).
set -uo pipefail

out=${1:?usage: gpu_check.sh OUT_DIR [BUDGET_S]}
budget=${2:-240}
py=${SBN_CHECK_PYTHON:-python3}
cd "$(dirname "$0")/../.." || exit 1
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
site=$(mktemp -d "${TMPDIR:-/tmp}/sbn-site.XXXXXX")
build=$(mktemp -d "${TMPDIR:-/tmp}/sbn-build.XXXXXX")
trap 'rm -rf "$site" "$build"' EXIT
export PYTHONUNBUFFERED=1

# what the build reads, copied: it leaves nothing (build/, *.egg-info) in the working tree
cp -R pyproject.toml README.md toolchain models targets "$build" || exit 1
if ! "$py" -m pip install -q --no-deps --no-build-isolation --no-index --ignore-requires-python \
    --target "$site" "$build" >"$out/install.log" 2>&1; then
  echo "error: could not install the package under $py (see $out/install.log)" >&2
  tail -5 "$out/install.log" >&2
  exit 1
fi
rm -f "$out/install.log"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"

"$py" - >"$out/versions.txt" 2>&1 <<'EOF'
import platform, sys
import torch
print("python", sys.version.split()[0], platform.machine())
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"cuda:{i}", p.name, f"{p.total_memory / 2**30:.0f} GiB", f"sm_{p.major}{p.minor}")
import sbn
print("sbn", sbn.__version__, sbn.__file__)
EOF
status=$?
cat "$out/versions.txt"
[ $status -eq 0 ] || exit 1

echo "== tests/train/test_gpu.py"
timeout 300 "$py" -m pytest -q -p no:cacheprovider --rootdir . tests/train/test_gpu.py 2>&1 | tee "$out/test_gpu.log"
tests=${PIPESTATUS[0]}

echo "== bench_gpu.py (budget ${budget} s)"
if [ "${SBN_CHECK_SMOKE:-0}" = 1 ]; then
  args=(--device cpu --smoke)
else
  args=(--budget-s "$budget")
fi
timeout $((budget + 240)) "$py" examples/benchmarks/bench_gpu.py --json "$out/bench_gpu.json" "${args[@]}" 2>&1 |
  tee "$out/bench_gpu.log"
bench=${PIPESTATUS[0]}

echo "== tests exit $tests, benchmark exit $bench; results in $out"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
