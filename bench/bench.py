"""gmat-sweep benchmarks: orchestration overhead, efficiency, amortisation, scale, stragglers.

Usage (from the repository root, after ``source scripts/_venv.sh``)::

    python bench/bench.py                 # every case, full sizes (about 15 minutes here)
    python bench/bench.py --quick         # smaller sizes, a few minutes
    python bench/bench.py --only overhead straggler
    python bench/bench.py --record        # also append the table to bench/RESULTS.md
    python bench/bench.py --only overhead efficiency slurm-startup --pools local dask ray slurm

Every case runs in a fresh interpreter (so peak RSS is that case's driver alone) on
the stand-in GMAT install with the example mission (``gmat-sweep demo``'s), through
``LocalPool`` with 2 workers unless said otherwise.

Definitions (issue 4):
- engine time: what gmat-run itself takes for one run in a warm process (load,
  override, run, read the report), measured first;
- overhead per run = wall time x workers / runs - engine time;
- efficiency = ideal time / wall time of the whole ``sweep()`` call, pool start-up
  included, for runs of a known cost.
Measure on a quiet machine: anything else running skews every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKERS = 2
CASES = ("engine", "overhead", "efficiency", "bootstrap", "scale", "straggler", "slurm-startup")
POOLS = ("local", "dask", "dask-tcp", "ray", "slurm", "mpi", "mpi-spawned")


# -- helpers used inside the child process --------------------------------------------


def _stand_in(tmp: Path, **knobs: Any) -> None:
    from gmat_sweep.testing import make_fake_gmat_install

    os.environ["GMAT_ROOT"] = str(make_fake_gmat_install(tmp / "GMAT", **knobs))


def example_mission_coasting(path: Path, *, end_s: int, first_s: int | None = None) -> Path:
    """The example mission (``gmat-sweep demo``'s) written to ``path`` with its coasts
    shortened: to ``end_s`` seconds from the start in all (5400 in the example), the first
    coast to ``first_s`` (default: unchanged, 1800).

    Raises:
        ValueError: the example mission no longer has the coasts this rewrites.
    """
    from gmat_sweep.demo import example_script

    text = example_script().read_text()
    changes = {"{Sat.ElapsedSecs = 5400}": f"{{Sat.ElapsedSecs = {end_s}}}"}
    if first_s is not None:
        changes["{Sat.ElapsedSecs = FirstCoast}"] = f"{{Sat.ElapsedSecs = {first_s}}}"
    for old, new in changes.items():
        if old not in text:
            raise ValueError(f"the example mission has no {old!r} to shorten; update the bench")
        text = text.replace(old, new)
    path.write_text(text)
    return path


def _smas(n: int) -> list[float]:
    return [6900.0 + 400.0 * i / max(n - 1, 1) for i in range(n)]


@contextlib.contextmanager
def _pool(kind: str, tmp: Path, reuse: bool = True) -> Iterator[Any]:
    """A 2-worker pool of ``kind`` on this machine, with the engine it needs, on loopback."""
    if kind == "local":
        from gmat_sweep import LocalPool

        with LocalPool(WORKERS, reuse_gmat_context=reuse) as pool:
            yield pool
    elif kind in ("dask", "dask-tcp"):  # the private LocalCluster: TLS by default
        from gmat_sweep_dask import DaskPool

        tls = {"security": False} if kind == "dask-tcp" else {}
        with DaskPool(n_workers=WORKERS, reuse_gmat_context=reuse, **tls) as pool:
            yield pool
    elif kind == "ray":
        from gmat_sweep_ray import RayPool
        from gmat_sweep_ray.testing import applied_env, local_runtime_kwargs, loopback_env

        with (
            applied_env(loopback_env(tmp / "ray-home")),
            RayPool(reuse_gmat_context=reuse, **local_runtime_kwargs()) as pool,
        ):
            yield pool
    elif kind == "slurm":
        from gmat_sweep_slurm import SlurmPool
        from gmat_sweep_slurm.testing import PARTITION, running_cluster

        with running_cluster(tmp / "slurm"), SlurmPool(
            mode="jobs", n_workers=WORKERS, partition=PARTITION, memory_per_worker="1GiB",
            interface="lo", log_directory=str(tmp / "slurm-logs"), reuse_gmat_context=reuse,
        ) as pool:  # fmt: skip
            yield pool
    elif kind in ("mpi", "mpi-spawned"):
        # "mpi": this process is rank 0 of `mpirun -n 3 python -m mpi4py.futures` (the
        # caller launched it so); "mpi-spawned": the pool spawns its 2 workers.
        from gmat_sweep_mpi import MPIPool

        spawn = {"workers": WORKERS} if kind == "mpi-spawned" else {}
        with MPIPool(reuse_gmat_context=reuse, **spawn) as pool:
            yield pool
    else:
        raise SystemExit(f"unknown pool {kind!r}")


def _sweep(
    tmp: Path, n: int, *, reuse: bool = True, name: str = "out", pool: str = "local"
) -> tuple[float, Any]:
    """Wall time of one whole sweep() call (pool start-up included) and its DataFrame."""
    from gmat_sweep import sweep
    from gmat_sweep.demo import example_script

    t0 = time.perf_counter()
    with _pool(pool, tmp, reuse) as backend:
        df = sweep(
            example_script(), grid={"Sat.SMA": _smas(n)}, backend=backend, out=tmp / name,
            progress=False,
        )  # fmt: skip
    return time.perf_counter() - t0, df


def _engine_time(reps: int = 40) -> float:
    """Median seconds gmat-run takes for one run of the example mission, warm."""
    import gmat_run

    from gmat_sweep.demo import example_script

    script = str(example_script())
    times = []
    with tempfile.TemporaryDirectory(prefix="gmat-sweep-bench-engine-") as work:
        for i in range(reps + 3):
            t0 = time.perf_counter()
            mission = gmat_run.Mission.load(script)
            mission["Sat.SMA"] = 7000.0 + i
            frame = mission.run(working_dir=work, overwrite=True).reports["OrbitReport"]
            assert len(frame) > 0
            times.append(time.perf_counter() - t0)
    return statistics.median(times[3:])


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def case_engine(tmp: Path, quick: bool) -> dict[str, Any]:
    _stand_in(tmp)
    return {"engine_ms": _engine_time() * 1e3}


def case_overhead(tmp: Path, quick: bool, pool: str) -> dict[str, Any]:
    n = 200 if quick else 1000
    _stand_in(tmp)
    engine = _engine_time_in_child()
    wall, df = _sweep(tmp, n, pool=pool)
    assert (df["__status"] == "ok").all()
    per_run = wall * WORKERS / n
    return {
        "runs": n,
        "wall_s": wall,
        "runs_per_s": n / wall,
        "engine_ms": engine * 1e3,
        "overhead_ms_per_run": (per_run - engine) * 1e3,
    }


def case_efficiency(tmp: Path, quick: bool, pool: str) -> dict[str, Any]:
    n, target = (40, 0.2) if quick else (100, 0.2)
    _stand_in(tmp)
    engine = _engine_time_in_child()
    cost = max(0.0, target - engine)  # the stand-in burns this on top of its own work
    _stand_in(tmp, run_cost_s=cost)
    run_s = _engine_time_in_child()
    wall, df = _sweep(tmp, n, name="eff", pool=pool)
    assert (df["__status"] == "ok").all()
    ideal = n * run_s / WORKERS
    return {"runs": n, "run_s": run_s, "ideal_s": ideal, "wall_s": wall, "efficiency": ideal / wall}


def case_bootstrap(tmp: Path, quick: bool) -> dict[str, Any]:
    n = 20 if quick else 100
    _stand_in(tmp, bootstrap_delay_s=1.0)
    on, _ = _sweep(tmp, n, reuse=True, name="on")
    off, _ = _sweep(tmp, n, reuse=False, name="off")
    return {"runs": n, "bootstrap_s": 1.0, "reuse_on_s": on, "reuse_off_s": off}


def case_scale(tmp: Path, quick: bool, n: int) -> dict[str, Any]:
    from gmat_sweep import Sweep
    from gmat_sweep.manifest import MANIFEST_NAME
    from gmat_sweep.results import Results

    _stand_in(tmp)
    wall, df = _sweep(tmp, n)
    rss = _peak_rss_mib()
    frame_mib = df.memory_usage(deep=True).sum() / 2**20
    del df
    out = tmp / "out"
    t0 = time.perf_counter()
    Results(out).to_pandas()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    Sweep.from_manifest(out, backend="local").resume()
    resume = time.perf_counter() - t0
    return {
        "runs": n,
        "wall_s": wall,
        "driver_peak_rss_mib": rss,
        "dataframe_mib": frame_mib,
        "manifest_mib": (out / MANIFEST_NAME).stat().st_size / 2**20,
        "dataframe_build_s": build,
        "resume_nothing_left_s": resume,
    }


def case_straggler(tmp: Path, quick: bool) -> dict[str, Any]:
    from gmat_sweep.forkserver import LINGER_S
    from gmat_sweep.testing import FakeGmatRule

    smas = _smas(16)
    slow = {"first": smas[:2], "last": smas[-2:]}
    walls: dict[str, list[float]] = {"first": [], "last": []}
    differences = []
    for pair in range(1 if quick else 3):  # alternating which placement goes first
        for where in ("first", "last") if pair % 2 == 0 else ("last", "first"):
            rules = [
                FakeGmatRule(when={"Sat.SMA": s}, action="sleep", seconds=2.0) for s in slow[where]
            ]
            _stand_in(tmp, rules=rules)
            time.sleep(LINGER_S + 0.5)  # every sweep starts its own host fork server, cold
            wall, _ = _sweep(tmp, 16, name=f"strag-{where}-{pair}")
            walls[where].append(wall)
        first, last = walls["first"][-1], walls["last"][-1]
        differences.append(abs(first - last) / min(first, last) * 100)
    return {
        "runs": 16,
        "straggler_s": 2.0,
        "wall_first_s": statistics.median(walls["first"]),
        "wall_last_s": statistics.median(walls["last"]),
        "difference_pct": statistics.median(differences),
        "pairs_pct": ", ".join(f"{d:.1f}" for d in differences),
    }


def case_slurm_startup(tmp: Path, quick: bool) -> dict[str, Any]:
    """Seconds from SlurmPool() to the first run starting on a worker job."""
    from datetime import datetime

    from gmat_sweep import sweep
    from gmat_sweep.demo import example_script
    from gmat_sweep.testing import manifest_lines

    _stand_in(tmp)
    t0 = time.time()
    with _pool("slurm", tmp) as pool:
        made = time.time()
        sweep(example_script(), grid={"Sat.SMA": [7000.0]}, backend=pool, out=tmp / "o",
              progress=False)  # fmt: skip
    started = datetime.fromisoformat(manifest_lines(tmp / "o", "run")[0]["started_at"])
    return {"pool_created_s": made - t0, "first_run_started_s": started.timestamp() - t0}


def _engine_time_in_child() -> float:
    """Engine time in a separate interpreter: gmat-run binds a process to one install."""
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench; print(bench._engine_time())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    return float(done.stdout.strip().splitlines()[-1])


def child(case: str, quick: bool, n: int | None, pool: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"gmat-sweep-bench-{case}-") as tmp_name:
        tmp = Path(tmp_name)
        runners: dict[str, Callable[[], dict[str, Any]]] = {
            "engine": lambda: case_engine(tmp, quick),
            "overhead": lambda: case_overhead(tmp, quick, pool),
            "efficiency": lambda: case_efficiency(tmp, quick, pool),
            "slurm-startup": lambda: case_slurm_startup(tmp, quick),
            "bootstrap": lambda: case_bootstrap(tmp, quick),
            "scale": lambda: case_scale(tmp, quick, n or 2000),
            "straggler": lambda: case_straggler(tmp, quick),
        }
        return runners[case]()


# -- the parent: run children, print and record ---------------------------------------


def _run_child(case: str, quick: bool, n: int | None = None, pool: str = "local") -> dict[str, Any]:
    args = [sys.executable, str(Path(__file__).resolve()), "--child", case, "--pool", pool]
    if quick:
        args.append("--quick")
    if n is not None:
        args += ["--n", str(n)]
    print(f"==> {case} {pool}{f' ({n} runs)' if n else ''} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench case {case} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"    done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return result


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    libs = ", ".join(
        f"{name} {installed(name)}"
        for name in ("gmat-sweep-core", "gmat-run", "pandas", "pyarrow", "distributed")
    )
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; {libs}"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _table(results: list[tuple[str, dict[str, Any]]]) -> str:
    lines = ["| case | figures |", "|---|---|"]
    for name, figures in results:
        text = ", ".join(f"{k} = {_fmt(v)}" for k, v in figures.items())
        lines.append(f"| {name} | {text} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", nargs="+", choices=CASES, help="run only these cases")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--pools", nargs="+", choices=POOLS, default=["local"],
        help="pools for the overhead and efficiency cases (default: local)",
    )  # fmt: skip
    parser.add_argument("--pool", choices=POOLS, default="local", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.quick, args.n, args.pool)))
        return
    results: list[tuple[str, dict[str, Any]]] = []
    for case in args.only or CASES:
        if case == "scale":
            for n in (2000,) if args.quick else (2000, 20000):
                results.append((f"scale {n}", _run_child(case, args.quick, n)))
        elif case in ("overhead", "efficiency"):
            for pool in args.pools:
                results.append((f"{case} {pool}", _run_child(case, args.quick, pool=pool)))
        elif case == "slurm-startup" and "slurm" not in args.pools:
            continue
        else:
            results.append((case, _run_child(case, args.quick)))
    table = _table(results)
    print(table)
    if args.record:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        command = " ".join(["python", "bench/bench.py", *sys.argv[1:]])
        section = f"\n## {stamp}: `{command}`\n\nMachine: {_machine()}\n\n{table}\n"
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as handle:
            handle.write(section)
        print(f"recorded in {HERE / 'RESULTS.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
