"""Helper of scripts/build_real_gmat.sh: checks, install layout, verification.

Standard library only; every subcommand prints what it checked and exits
non-zero with a message naming what is wrong.

  check-cspice  LIB HEADERS_DIR TOOLKIT
      the toolkit version of LIB is TOOLKIT and LIB exports every function the
      hand-written headers declare plus the f2c runtime GMAT's MSISE-90 calls.
  check-engine  PACKAGE_DIR CSPICE_LIB
      every undefined symbol of the built GMAT libraries is resolved by the
      libraries they load; lists those that come from CSPICE.
  layout        SITE_PACKAGES TEMPLATES OUT
      writes the GMAT install layout that gmat-run loads (see write_layout).
  verify        GMAT_ROOT SCRIPT EXPECTED_REPORT
      runs SCRIPT through gmat-run on GMAT_ROOT (in this interpreter) and
      requires its ReportFile to equal EXPECTED_REPORT byte for byte.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The f2c runtime that GMAT's msise90_sub.c calls (it declares these itself).
F2C_RUNTIME = (
    *("s_wsfe", "do_fio", "e_wsfe", "s_wsle", "do_lio", "e_wsle"),
    *("pow_dd", "r_lg10", "r_mod"),
)

_DECLARED = re.compile(r"^[A-Za-z][\w \t*]*?\b(\w+_c|\w+_)\s*\(", re.MULTILINE)


class CheckFailed(Exception):
    """A check did not pass; the message says what and where."""


def _nm(path: Path, *flags: str) -> set[str]:
    try:
        out = subprocess.run(
            ["nm", "-D", *flags, str(path)], check=True, capture_output=True, text=True
        ).stdout
    except FileNotFoundError as exc:
        raise CheckFailed("nm not found (Debian package binutils)") from exc
    except subprocess.CalledProcessError as exc:
        raise CheckFailed(f"nm -D failed on {path}: {exc.stderr.strip()}") from exc
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if parts:
            names.add(parts[-1].split("@")[0])
    return names


def exported(lib: Path) -> set[str]:
    """Names of the functions and data a shared library defines for others."""
    return _nm(lib, "--defined-only")


def declared_functions(headers: Path) -> list[str]:
    """Functions declared (not macro-defined) in the hand-written CSPICE headers."""
    names: set[str] = set()
    for header in sorted(headers.glob("*.h")):
        text = re.sub(r"/\*.*?\*/", "", header.read_text(encoding="utf-8"), flags=re.DOTALL)
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        names.update(_DECLARED.findall(text))
    return sorted(names)


def check_cspice(lib: Path, headers: Path, toolkit: str) -> None:
    if not lib.is_file():
        raise CheckFailed(f"{lib} does not exist")
    handle = ctypes.CDLL(str(lib))
    tkvrsn = handle.tkvrsn_c
    tkvrsn.restype = ctypes.c_char_p
    tkvrsn.argtypes = [ctypes.c_char_p]
    version = tkvrsn(b"TOOLKIT").decode()
    print(f"    CSPICE toolkit version: {version}")
    if version != toolkit:
        raise CheckFailed(
            f"{lib} is CSPICE {version}; the declarations were checked against {toolkit}. "
            "Pin the spiceypy version that ships it, or re-check the headers for the new toolkit."
        )
    needed = declared_functions(headers) + list(F2C_RUNTIME)
    have = exported(lib)
    missing = sorted(set(needed) - have)
    if missing:
        raise CheckFailed(f"{lib} does not export: {', '.join(missing)}")
    print(f"    {lib.name} exports all {len(needed)} functions declared or used: OK")


def _elf_libraries(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*.so*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"
    )


def _ldd(lib: Path) -> list[Path]:
    out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
    deps = []
    for line in out.splitlines():
        if "not found" in line:
            raise CheckFailed(f"{lib}: shared library not found at run time: {line.strip()}")
        match = re.search(r"=>\s+(\S+)\s+\(", line)
        if match:
            deps.append(Path(match.group(1)))
    return deps


def check_engine(package_dirs: list[Path], cspice_lib: Path) -> None:
    libs = [lib for d in package_dirs for lib in _elf_libraries(d)]
    if not libs:
        raise CheckFailed(f"no shared libraries under {', '.join(map(str, package_dirs))}")
    cspice_exports = exported(cspice_lib)
    from_cspice: set[str] = set()
    for lib in libs:
        undefined = _nm(lib, "--undefined-only")
        available: set[str] = set()
        for dep in [lib, *_ldd(lib)]:
            available |= exported(dep)
        # Python C-API symbols come from the interpreter that loads the extension.
        unresolved = sorted(
            s for s in undefined - available if not s.startswith(("Py", "_Py")) and s != ""
        )
        weak = _weak_undefined(lib)
        unresolved = [s for s in unresolved if s not in weak]
        if unresolved:
            raise CheckFailed(f"{lib.name}: unresolved symbols: {', '.join(unresolved[:40])}")
        from_cspice |= undefined & cspice_exports
    names = sorted(from_cspice)
    print(f"    GMAT's libraries take {len(names)} symbols from CSPICE, all exported:")
    for start in range(0, len(names), 8):
        print("      " + " ".join(names[start : start + 8]))


def _weak_undefined(lib: Path) -> set[str]:
    out = subprocess.run(
        ["nm", "-D", "--undefined-only", str(lib)], capture_output=True, text=True
    ).stdout
    weak = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("w", "v"):
            weak.add(parts[1].split("@")[0])
    return weak


def write_layout(site_packages: Path, templates: Path, out: Path) -> None:
    """Write a GMAT install at OUT around the gmatpy wheel installed in SITE_PACKAGES.

    out/bin/gmatpy/            __init__.py (templates) + _native/ (from the wheel)
    out/bin/gmatpy.libs/       the libraries auditwheel bundled (CSPICE, ...)
    out/bin/gmat_startup_file.txt, api_startup_file.txt (absolute paths)
    out/api/load_gmat.py, BuildApiStartupFile.py
    out/data/                  the wheel's scientific data
    out/output/                GMAT's default output folder
    out/licenses/gmatpy/       the wheel's notices and licences
    """
    package = site_packages / "gmatpy"
    libs = site_packages / "gmatpy.libs"
    for needed in (package / "_native", package / "data", libs):
        if not needed.is_dir():
            raise CheckFailed(f"{needed} is missing from the installed gmatpy wheel")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(templates, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(package / "_native", out / "bin" / "gmatpy" / "_native", ignore=ignore)
    shutil.copytree(libs, out / "bin" / "gmatpy.libs")
    shutil.copytree(package / "data", out / "data")
    notices = out / "licenses" / "gmatpy"
    notices.mkdir(parents=True)
    for name in ("NOTICE.txt", "LICENSES.md"):
        if (package / name).is_file():
            shutil.copy2(package / name, notices / name)
    if (package / "licenses").is_dir():
        shutil.copytree(package / "licenses", notices / "licenses")
    (out / "output").mkdir(exist_ok=True)

    init = out / "bin" / "gmatpy" / "__init__.py"
    text = init.read_text(encoding="utf-8")
    if "@CACHE_TAG@" not in text:
        raise CheckFailed(f"{init} has no @CACHE_TAG@ placeholder")
    init.write_text(text.replace("@CACHE_TAG@", sys.implementation.cache_tag), encoding="utf-8")

    subprocess.run(
        [sys.executable, str(out / "api" / "BuildApiStartupFile.py")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    startup = (out / "bin" / "api_startup_file.txt").read_text(encoding="utf-8")
    missing = []
    for line in startup.splitlines():
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        is_data = (
            key.endswith("_FILE")
            and value.startswith("/")
            and key != "LOG_FILE"
            and "unbundled" not in value
        )
        if sep and is_data and not Path(value).is_file():
            missing.append(f"{key} = {value}")
    if missing:
        raise CheckFailed("startup file names data files that do not exist: " + "; ".join(missing))
    print(f"    wrote the GMAT install layout at {out}")


_VERIFY_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import gmat_run
mission = gmat_run.Mission.load(sys.argv[1])
t1 = time.perf_counter()
result = mission.run(working_dir=sys.argv[2], overwrite=True)
t2 = time.perf_counter()
names = list(result.reports)
frame = result.reports[names[0]]
print(json.dumps({
    "gmat_run": gmat_run.__version__ if hasattr(gmat_run, "__version__") else "?",
    "load_s": t1 - t0, "run_s": t2 - t1, "reports": names,
    "report_path": str(result.report_paths[names[0]]),
    "columns": list(map(str, frame.columns)), "dtypes": list(map(str, frame.dtypes)),
    "rows": len(frame),
}))
"""


def verify(gmat_root: Path, script: Path, expected: Path) -> None:
    env = dict(os.environ, GMAT_ROOT=str(gmat_root))
    with tempfile.TemporaryDirectory(prefix="real-gmat-verify-") as work:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _VERIFY_CHILD, str(script), work],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise CheckFailed(
                f"gmat-run could not run {script.name} on {gmat_root} with {sys.executable}:\n"
                f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
            )
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        got = Path(info["report_path"]).read_text(encoding="utf-8")
    want = expected.read_text(encoding="utf-8")
    if got != want:
        import difflib

        diff = "".join(
            difflib.unified_diff(
                want.splitlines(True), got.splitlines(True), str(expected), "this engine", n=1
            )
        )
        raise CheckFailed(f"{script.name}'s report differs from {expected}:\n{diff[:4000]}")
    print(
        f"    {sys.executable}: gmat-run loaded {script.name} in {info['load_s']:.2f} s, ran it in "
        f"{info['run_s'] * 1000:.0f} ms ({elapsed:.1f} s with bootstrap); report "
        f"{info['reports'][0]} ({info['rows']} rows) equals {expected.name} byte for byte: OK"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check-cspice")
    p.add_argument("lib", type=Path)
    p.add_argument("headers", type=Path)
    p.add_argument("toolkit")
    p = sub.add_parser("check-engine")
    p.add_argument("cspice_lib", type=Path)
    p.add_argument("package_dirs", type=Path, nargs="+")
    p = sub.add_parser("layout")
    p.add_argument("site_packages", type=Path)
    p.add_argument("templates", type=Path)
    p.add_argument("out", type=Path)
    p = sub.add_parser("verify")
    p.add_argument("gmat_root", type=Path)
    p.add_argument("script", type=Path)
    p.add_argument("expected", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "check-cspice":
            check_cspice(args.lib, args.headers, args.toolkit)
        elif args.command == "check-engine":
            check_engine(args.package_dirs, args.cspice_lib)
        elif args.command == "layout":
            write_layout(args.site_packages, args.templates, args.out)
        else:
            verify(args.gmat_root, args.script, args.expected)
    except CheckFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
