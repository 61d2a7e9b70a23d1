# Sourced by the scripts in this folder: make .venv (Python >= 3.10) and install
# the workspace packages into it, editable. Idempotent and quiet when up to date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
pick_python() {
  for candidate in "${PYTHON:-}" python3.12 python3.11 python3.10 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "error: gmat-sweep needs Python >= 3.10; none found on PATH (set PYTHON=/path/to/python3)" >&2
  return 1
}
if [ ! -x .venv/bin/python ]; then
  py="$(pick_python)"
  echo "==> creating .venv with $($py --version)"
  "$py" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=".venv/.gmat-sweep-installed"
inputs="$(cat requirements-dev.txt packages/*/pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  echo "==> installing gmat-sweep packages and tools into .venv"
  editable=()
  for pkg in packages/*/; do editable+=(-e "$pkg"); done
  .venv/bin/python -m pip install --quiet "${editable[@]}" -r requirements-dev.txt
  echo "$inputs" > "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
