"""Scale figures: driver memory, files and reopening time as the run count grows.

Usage (from the repository root, after ``source scripts/_venv.sh``)::

    python bench/scale.py stand-in          # 20,000 stand-in runs, 2 workers
    python bench/scale.py driver            # 10^6 runs through the driver alone
    python bench/scale.py driver --runs 100000 --record
    python bench/scale.py streams --pairs 3

- ``stand-in``: a 20,000-run grid on the stand-in GMAT (no run cost beyond its own),
  ``LocalPool(2)``, the example mission coasting one hour (a 61-row report, as in issue
  12): the driver's peak RSS before and after building the DataFrame (its GMAT hosts are
  other processes), the files in the sweep directory, the DataFrame's shape, and the
  time to reopen the finished sweep and resume it (nothing left to do: the call returns
  the DataFrame).
- ``driver``: a Monte Carlo design of two parameters on an in-process pool whose batches
  complete at once, each run bringing back a 3-row output: the driver's peak RSS and
  runs/s, reopening and resuming the finished sweep, and how fast the DataFrame of the
  retained rows builds.
- ``streams``: that driver sweep (100,000 runs unless ``--runs``) with the Monte Carlo
  draws computed for whole chunks (:mod:`gmat_sweep.streams`) against numpy's own
  SeedSequence/PCG64 per run, in alternating pairs (``--pairs``): the ratio of runs/s.

Each step runs in a fresh interpreter (peak RSS is ``ru_maxrss`` of that interpreter).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _files(out: Path) -> int:
    return sum(1 for p in out.rglob("*") if p.is_file())


def child_stand_in(args: dict[str, Any]) -> dict[str, Any]:
    from bench import example_mission_coasting
    from gmat_sweep import Grid, LocalPool, Sweep

    n = args["n"]
    design = Grid({"Sat.SMA": [6900.0 + 400.0 * i / (n - 1) for i in range(n)]})
    # The figure is for a 61-row report: the example mission ending at 1800 s.
    script = example_mission_coasting(Path(args["out"]).parent / "leo_61_rows.script", end_s=1800)
    t0 = time.perf_counter()
    with LocalPool(2) as pool:
        results = Sweep(script, design, out=args["out"], backend=pool,
                        progress=False).run(lazy=True)  # fmt: skip
    wall = time.perf_counter() - t0
    swept_rss = _rss_mib()
    frame = results.to_pandas()
    assert (frame["__status"] == "ok").all()
    runs = int(frame.index.get_level_values(0).nunique())
    assert len(frame) == 61 * n, f"expected 61 rows a run, got {len(frame) / n:g}"
    return {"wall_s": wall, "rows": len(frame), "runs": runs, "sweep_rss_mib": swept_rss,
            "rss_mib": _rss_mib()}  # fmt: skip


def child_driver(args: dict[str, Any]) -> dict[str, Any]:
    from concurrent.futures import Future

    if args.get("numpy_streams"):
        from gmat_sweep import streams

        streams._checked.update(uniforms=False, seeds=False)  # numpy's per-run path

    import pandas as pd

    from gmat_sweep import MonteCarlo, Pool, RunOutcome, Status, Sweep
    from gmat_sweep.outputs import encode_frame
    from gmat_sweep.spec import applied_digest

    rows = pd.DataFrame({"Sat.ElapsedSecs": [0.0, 60.0, 120.0], "Sat.SMA": [7000.0] * 3})
    table = {"report__OrbitReport": encode_frame(rows)}

    class InstantPool(Pool):
        name = "instant"
        description = "completes every batch at once, each run with a 3-row report"

        @property
        def capacity(self) -> int:
            return 64

        def submit(self, specs: Any) -> Future[list[RunOutcome]]:
            done: Future[list[RunOutcome]] = Future()
            done.set_result([RunOutcome(s.run_id, s.attempt, Status.OK, tables=table,
                                        duration_s=1e-5, applied=applied_digest(s))
                             for s in specs])  # fmt: skip
            return done

    n = args["n"]
    design = MonteCarlo(
        n, {"Sat.SMA": ("normal", 7000.0, 10.0), "Sat.INC": ("uniform", 0.0, 90.0)}, seed=1
    )
    script = Path(args["out"]).parent / "mission.script"
    script.write_text("Create Spacecraft Sat;\n")
    t0 = time.perf_counter()
    results = Sweep(script, design, out=args["out"], backend=InstantPool(), progress=False,
                    validate=False).run(lazy=True)  # fmt: skip
    wall = time.perf_counter() - t0
    swept_rss = _rss_mib()
    frame = results.to_pandas()
    assert len(frame) == 3 * n
    return {"wall_s": wall, "runs_per_s": n / wall, "sweep_rss_mib": swept_rss,
            "rss_mib": _rss_mib()}  # fmt: skip


def child_reopen(args: dict[str, Any]) -> dict[str, Any]:
    from gmat_sweep import Sweep
    from gmat_sweep.results import Results

    t0 = time.perf_counter()
    sweep = Sweep.from_manifest(args["out"], backend="debug", progress=False)
    pending = len(sweep.manifest.pending()) if sweep.manifest is not None else -1
    opened = time.perf_counter() - t0
    frame = sweep.resume()
    resumed = time.perf_counter() - t0
    rows = len(frame)
    del frame
    # The build alone, warm (the resume above built it once): the median of five, each
    # frame released before the next, as this machine's timings vary by 2-3x run to run.
    builds = []
    for _ in range(5):
        t1 = time.perf_counter()
        again = Results(args["out"], sweep.manifest).to_pandas()
        builds.append(time.perf_counter() - t1)
        assert len(again) == rows
        del again
    build = statistics.median(builds)
    return {
        "open_s": opened,
        "pending": pending,
        "resume_s": resumed,
        "frame_s": build,
        "frame_spread_s": [round(b, 3) for b in builds],
        "rows": rows,
        "rows_per_s": rows / build,
        "rss_mib": _rss_mib(),
    }


CHILDREN = {"stand-in": child_stand_in, "driver": child_driver, "reopen": child_reopen}


def _child(name: str, args: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    import os

    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", name, json.dumps(args)],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"bench child {name} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def figure(kind: str, n: int) -> list[tuple[str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="gmat-sweep-bench-scale-"))
    try:
        env: dict[str, str] = {}
        if kind == "stand-in":
            from gmat_sweep.testing import make_fake_gmat_install

            env["GMAT_ROOT"] = str(make_fake_gmat_install(tmp / "GMAT"))
        out = str(tmp / "out")
        run = _child(kind, {"n": n, "out": out}, env)
        files = _files(Path(out))
        reopen = _child("reopen", {"out": out}, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    label = f"{kind}, {n} runs"
    rows = [
        (f"{label}: driver peak RSS, sweep() with the DataFrame", f"{run['rss_mib']:.0f} MiB"),
        (f"{label}: driver peak RSS before the DataFrame", f"{run['sweep_rss_mib']:.0f} MiB"),
        (f"{label}: files in the sweep directory", str(files)),
        (f"{label}: sweep() wall, runs/s", f"{run['wall_s']:.1f} s, {n / run['wall_s']:.0f}"),
        (f"{label}: reopen (from_manifest + pending)", f"{reopen['open_s']:.2f} s"),
        (f"{label}: resume of the finished sweep, whole call", f"{reopen['resume_s']:.2f} s"),
        (
            f"{label}: DataFrame build",
            f"{reopen['rows']} rows in {reopen['frame_s']:.2f} s, "
            f"{reopen['rows_per_s']:.3g} rows/s (median of 5 warm builds: "
            f"{', '.join(f'{b:.2f}' for b in reopen['frame_spread_s'])} s)",
        ),
        (f"{label}: reopen peak RSS", f"{reopen['rss_mib']:.0f} MiB"),
    ]
    return rows


def streams_figure(n: int, pairs: int) -> list[tuple[str, str]]:
    """Runs/s with chunked draws over runs/s with numpy's per-run draws, alternating."""
    ratios = []
    for pair in range(pairs):
        walls: dict[bool, float] = {}
        for numpy_streams in (False, True) if pair % 2 == 0 else (True, False):
            tmp = Path(tempfile.mkdtemp(prefix="gmat-sweep-bench-scale-"))
            try:
                args = {"n": n, "out": str(tmp / "out"), "numpy_streams": numpy_streams}
                walls[numpy_streams] = _child("driver", args)["wall_s"]
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        ratios.append(walls[True] / walls[False])
    listed = ", ".join(f"{r:.3f}" for r in ratios)
    median = sorted(ratios)[len(ratios) // 2]
    return [
        (
            f"driver, {n} runs: runs/s with chunked draws / with numpy's per-run draws",
            f"median {median:.3f} ({listed})",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("figures", nargs="+", choices=["stand-in", "driver", "streams"])
    parser.add_argument("--runs", type=int, default=None, help="override the run count")
    parser.add_argument("--pairs", type=int, default=3, help="streams: alternating pairs")
    parser.add_argument("--record", action="store_true")
    if "--child" in sys.argv:
        name, payload = sys.argv[2], sys.argv[3]
        print(json.dumps(CHILDREN[name](json.loads(payload))))
        return
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    for kind in args.figures:
        if kind == "streams":
            rows += streams_figure(args.runs or 100_000, args.pairs)
            continue
        n = args.runs or (20_000 if kind == "stand-in" else 1_000_000)
        rows += figure(kind, n)
    sys.path.insert(0, str(HERE))
    from _results import publish

    publish(rows, column="value", title="scale", record=args.record)


if __name__ == "__main__":
    main()
