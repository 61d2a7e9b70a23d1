#!/usr/bin/env bash
# A real sweep of the bundled example mission, end to end, from a fresh clone.
# Runs real GMAT when GMAT_ROOT points at an install; otherwise the stand-in GMAT.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
exec gmat-sweep demo "$@"
