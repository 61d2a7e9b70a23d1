"""Measure how far the stand-in GMAT's reports are from real GMAT's.

Runs each mission (with a few override cases like the ones the test kit
sweeps) through gmat-run on two GMAT installs -- each in its own child
process, since gmat-run binds one install per interpreter -- and prints, per
ReportFile column, the largest relative and absolute difference over all
rows and cases. Run it with the project's Python (it needs gmat_run and
pandas):

  .venv/bin/python scripts/real_gmat/compare_engines.py --real "$GMAT_ROOT" \
      [--fake DIR] [--json out.json] MISSION.script...

Without --fake a stand-in install is made in a temporary folder with
gmat_sweep.testing.make_fake_gmat_install. The relative difference of a value
pair is |real - fake| / max(|real|, |fake|) (0 when both are 0); epochs are
compared in seconds; rows are matched by position and the row counts must
agree.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Override cases: the script as written, and corners of the ranges the kit's
# equivalence suite sweeps (Sat.SMA 6900-7300 km, Sat.INC 0-98 deg, Sat.ECC to 0.02).
CASES: dict[str, dict[str, float]] = {
    "as written": {},
    "SMA 6900, INC 0": {"Sat.SMA": 6900.0, "Sat.INC": 0.0},
    "SMA 7300, INC 97.8": {"Sat.SMA": 7300.0, "Sat.INC": 97.8},
    "SMA 7050, ECC 0.02": {"Sat.SMA": 7050.0, "Sat.ECC": 0.02},
    "burn 0.1, coast 2400.5": {"Raise.Element1": 0.1, "FirstCoast.Value": 2400.5},
    "coast 1234.5": {"Coast.Value": 1234.5},
}


def applies(script: Path, overrides: dict[str, float]) -> bool:
    """True when every resource the case overrides is created in the script."""
    text = script.read_text(encoding="utf-8")
    return all(f" {field.split('.')[0]};" in text for field in overrides)


_CHILD = r"""
import pickle, sys, tempfile
import gmat_run
out = {}
for key, script, overrides in pickle.load(open(sys.argv[1], "rb")):
    mission = gmat_run.Mission.load(script)
    for field, value in overrides.items():
        mission[field] = value
    with tempfile.TemporaryDirectory() as work:
        result = mission.run(working_dir=work, overwrite=True)
        out[key] = {name: result.reports[name].copy() for name in result.reports}
pickle.dump(out, open(sys.argv[2], "wb"))
"""


def run_all(gmat_root: Path, jobs: list[tuple[str, str, dict[str, float]]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "jobs.pkl"), Path(tmp, "out.pkl")
        src.write_bytes(pickle.dumps(jobs))
        env = dict(os.environ, GMAT_ROOT=str(gmat_root))
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(src), str(dst)],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            sys.exit(f"runs on {gmat_root} failed:\n{proc.stderr[-4000:]}")
        result: dict[str, Any] = pickle.loads(dst.read_bytes())
        return result


def column_differences(real: Any, fake: Any) -> dict[str, dict[str, Any]]:
    import numpy as np
    import pandas as pd

    if len(real) != len(fake):
        raise SystemExit(f"row counts differ: real {len(real)}, stand-in {len(fake)}")
    if list(real.columns) != list(fake.columns):
        raise SystemExit(
            f"columns differ: real {list(real.columns)}, stand-in {list(fake.columns)}"
        )
    diffs: dict[str, dict[str, Any]] = {}
    for column in real.columns:
        a, b = real[column], fake[column]
        if pd.api.types.is_datetime64_any_dtype(a):
            seconds = (a - b).dt.total_seconds().abs()
            diffs[column] = {"kind": "epoch", "max_abs": float(seconds.max()), "unit": "s"}
            continue
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        absolute = np.abs(x - y)
        scale = np.maximum(np.abs(x), np.abs(y))
        relative = np.divide(absolute, scale, out=np.zeros_like(absolute), where=scale > 0)
        diffs[column] = {
            "kind": f"{a.dtype}/{b.dtype}",
            "max_rel": float(relative.max()),
            "max_abs": float(absolute.max()),
        }
    return diffs


def merge(into: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> None:
    for column, d in new.items():
        old = into.setdefault(column, dict(d))
        for key in ("max_rel", "max_abs"):
            if key in d:
                old[key] = max(old.get(key, 0.0), d[key])
        if old.get("kind") != d.get("kind"):
            old["kind"] = f"{old['kind']}, {d['kind']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True, help="GMAT_ROOT of the real engine")
    parser.add_argument("--fake", type=Path, help="a stand-in install (default: make one)")
    parser.add_argument("--json", type=Path, help="also write the table here")
    parser.add_argument("missions", type=Path, nargs="+")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fake-gmat-") as tmp:
        fake_root = args.fake
        if fake_root is None:
            from gmat_sweep.testing import make_fake_gmat_install

            fake_root = make_fake_gmat_install(Path(tmp, "gmat"))
        jobs = [
            (f"{m.name} | {case}", str(m.resolve()), overrides)
            for m in args.missions
            for case, overrides in CASES.items()
            if applies(m, overrides)
        ]
        real = run_all(args.real, jobs)
        fake = run_all(fake_root, jobs)

    table: dict[str, dict[str, dict[str, Any]]] = {}
    for key, _, _ in jobs:
        mission = key.split(" | ")[0]
        for report, frame in real[key].items():
            diffs = column_differences(frame, fake[key][report])
            merge(table.setdefault(f"{mission}: {report}", {}), diffs)
            worst = max((d.get("max_rel", 0.0) for d in diffs.values()), default=0.0)
            print(f"  {key:<45} {report}: {len(frame)} rows, worst relative difference {worst:.3g}")

    for name, columns in table.items():
        cases = [key.split(" | ")[1] for key, _, _ in jobs if key.startswith(name.split(":")[0])]
        print(f"\n{name}  (over cases: {'; '.join(cases)})")
        print(f"  {'column':<24} {'max relative':>14} {'max absolute':>14}  dtypes (real/stand-in)")
        for column, d in columns.items():
            rel = f"{d['max_rel']:.3g}" if "max_rel" in d else "-"
            unit = f" {d['unit']}" if "unit" in d else ""
            print(f"  {column:<24} {rel:>14} {d['max_abs']:>12.3g}{unit:<2}  {d['kind']}")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
