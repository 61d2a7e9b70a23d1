#!/usr/bin/env bash
# The whole test suite from a fresh clone: sets up .venv, lints, type-checks, tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k manifest -x).
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy (strict) on every package's src"
mypy packages/*/src
echo "==> pytest"
pytest "$@"
