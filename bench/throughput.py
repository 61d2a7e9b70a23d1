"""Throughput figures: gmat-sweep against the physical limit, and each backend against local.

Usage (from the repository root, after ``source scripts/_venv.sh``)::

    GMAT_ROOT=<real GMAT> python bench/throughput.py real   # sweep() vs W bare gmat-run loops
    python bench/throughput.py pools                         # warm pools vs local, stand-in
    python bench/throughput.py user-dask                     # 16-worker LocalCluster, 0.5 s runs
    python bench/throughput.py efficiency                    # 100 x 0.2 s, whole call
    python bench/throughput.py ceiling                       # runs that cost nothing
    python bench/throughput.py real pools --record           # append to bench/RESULTS.md

The machine is shared and noisy, so every figure is a ratio of two measurements taken side
by side: each pair runs its two sides one after the other in fresh interpreters, pairs
alternate which side goes first, and the median of the pairs is reported with the spread.

- ``real``: the physical limit is W fresh, bare gmat-run processes side by side, each doing
  its share of the runs from a cold GMAT (bootstrap, then ``Mission.load``, set ``Sat.SMA``,
  ``run()``, read the report); against it, the whole ``sweep()`` call of the same grid with
  W workers, and the reference gmat-sweep 0.6.0 (its own venv, built on first use in
  ``~/.cache/gmat-sweep/bench-reference-0.6.0``). Mission: ``bench/leo_1h.script``.
- ``pools``: stand-in GMAT (runs of ~35 ms), 2 workers, each pool started and warmed
  before the timed sweep; runs/s of Dask, Ray, Slurm (jobs mode) and MPI (``mpi``: the
  driver as rank 0 of ``mpirun -n 3 python -m mpi4py.futures``; ``mpi-spawned``: two
  spawned workers) over local's.
- ``user-dask``: a user's ``LocalCluster(n_workers=16)`` passed in as ``client=``, runs
  that idle 0.5 s in GMAT's place (the stand-in's ``wait`` rule) of the example mission
  propagated two minutes (so the stand-in's own CPU per run stays ~10 ms): runs/s over
  the 32 the slots allow, ours and the reference's on the same kind of cluster, and
  the limit as in ``real``: 16 bare gmat-run processes side by side from cold. Beside
  them, the machine's cores busy (every process's CPU, from ``/proc/stat``) while the
  cluster sits idle for 5 s before our sweep, and during it: what the cluster itself
  takes from the CPU that the runs and the driver share.
- ``efficiency``: 100 runs of 0.2 s, ideal/wall (ideal: the runs' cost measured alone,
  spread over W cores): the sweep() call on a pool just made, pool start + sweep() +
  close, and the whole ``sweep(backend=name)`` call, which makes and closes the pool
  itself (so it starts while GMAT does). Beside them, in alternating order, the physical
  limit as in ``real``: W bare gmat-run processes side by side from cold, as ideal/wall,
  and the whole call over it.
- ``ceiling``: an in-process pool whose batches complete at once: the driver's runs/s.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKERS = 2
REFERENCE_VENV = Path.home() / ".cache" / "gmat-sweep" / "bench-reference-0.6.0"
MISSION = HERE / "leo_1h.script"


def _smas(n: int) -> list[float]:
    return [6900.0 + 400.0 * i / max(n - 1, 1) for i in range(n)]


# -- children (each in a fresh interpreter) ------------------------------------------------


def child_bare(args: dict[str, Any]) -> dict[str, Any]:
    """One bare gmat-run loop from a cold GMAT: what GMAT alone costs for these runs."""
    from gmat_run import Mission, bootstrap, locate_gmat

    bootstrap(locate_gmat())
    work = Path(args["tmp"]) / f"bare-{os.getpid()}"  # removed by the parent
    work.mkdir()
    for sma in args["smas"]:
        mission = Mission.load(args["script"])
        mission["Sat.SMA"] = sma
        frame = mission.run(working_dir=work, overwrite=True).reports["OrbitReport"]
        assert len(frame) > 0
    return {}


def child_ours(args: dict[str, Any]) -> dict[str, Any]:
    """The whole sweep() call (or Sweep.run with a pool started and warmed beforehand)."""
    from gmat_sweep import sweep

    out = Path(args["tmp"]) / "out"
    if args["pool"].startswith("by-name:"):  # sweep(backend="dask"): the pool made inside
        name = args["pool"].removeprefix("by-name:")
        options = {"workers": WORKERS} if name == "local" else {"n_workers": WORKERS}
        t0 = time.perf_counter()
        df = sweep(args["script"], grid={"Sat.SMA": _smas(args["n"])}, backend=name,
                   backend_options=options, out=out, progress=False)  # fmt: skip
        wall = time.perf_counter() - t0
        assert (df["__status"] == "ok").all(), df["__status"].value_counts()
        return {"wall_s": wall, "with_pool_s": wall}
    t_pool = time.perf_counter()
    with _our_pool(args["pool"], Path(args["tmp"]), args.get("pool_options", {})) as pool:
        if args.get("warm"):
            if hasattr(pool, "client"):  # every worker up (a Slurm worker job starts late)
                pool.client.wait_for_workers(WORKERS, timeout=300)
            sweep(args["script"], grid={"Sat.SMA": _smas(4 * WORKERS)}, backend=pool,
                  out=Path(args["tmp"]) / "warm", progress=False)  # fmt: skip
        t0 = time.perf_counter()
        df = sweep(args["script"], grid={"Sat.SMA": _smas(args["n"])}, backend=pool, out=out,
                   progress=False)  # fmt: skip
        wall = time.perf_counter() - t0
    assert (df["__status"] == "ok").all(), df["__status"].value_counts()
    return {"wall_s": wall, "with_pool_s": time.perf_counter() - t_pool}


def child_user_dask(args: dict[str, Any]) -> dict[str, Any]:
    """Ours or the reference's sweep() on a user's 16-worker LocalCluster (client=)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=args["workers"], threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address="127.0.0.1:0",
                           worker_dashboard_address="127.0.0.1:0",
                           local_directory=args["tmp"],
                           scheduler_kwargs={"local_directory": args["tmp"]})  # fmt: skip
    client = Client(cluster)
    try:
        if args["which"] == "ours":
            from gmat_sweep_dask import DaskPool

            pool = DaskPool(client=client)
        else:
            from gmat_sweep.backends.dask import DaskPool as RefDaskPool  # type: ignore

            pool = RefDaskPool(client=client)
        from gmat_sweep import sweep

        # What the cluster itself costs this machine, doing nothing: its workers' and
        # nannies' heartbeats and monitors, in cores busy (of os.cpu_count()).
        idle_s = float(args.get("idle_s", 0.0))
        busy0, t_idle = _busy_cpu_s(), time.perf_counter()
        time.sleep(idle_s)
        idle_cores = (_busy_cpu_s() - busy0) / (time.perf_counter() - t_idle) if idle_s else 0.0
        busy0, t0 = _busy_cpu_s(), time.perf_counter()
        df = sweep(args["script"], grid={"Sat.SMA": _smas(args["n"])}, backend=pool,
                   out=Path(args["tmp"]) / "out")  # fmt: skip
        wall = time.perf_counter() - t0
        sweep_cores = (_busy_cpu_s() - busy0) / wall
        pool.close()
    finally:
        client.close()
        cluster.close()
    assert (df["__status"] == "ok").all()
    return {"wall_s": wall, "idle_cores": idle_cores, "sweep_cores": sweep_cores}


def _busy_cpu_s() -> float:
    """CPU seconds this machine has spent busy since boot, every process's (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as handle:
        ticks = [int(t) for t in handle.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def child_reference(args: dict[str, Any]) -> dict[str, Any]:
    """The reference gmat-sweep 0.6.0's whole sweep() call with its local pool."""
    from gmat_sweep import sweep
    from gmat_sweep.backends.joblib import LocalJoblibPool  # type: ignore

    t0 = time.perf_counter()
    pool = LocalJoblibPool(max_workers=WORKERS)
    df = sweep(args["script"], grid={"Sat.SMA": _smas(args["n"])}, backend=pool,
               out=Path(args["tmp"]) / "out")  # fmt: skip
    wall = time.perf_counter() - t0
    assert (df["__status"] == "ok").all()
    return {"wall_s": wall}


def child_ceiling(args: dict[str, Any]) -> dict[str, Any]:
    """Sweep.run on a pool whose batches complete at once: the driver's own ceiling."""
    from concurrent.futures import Future

    from gmat_sweep import Grid, Pool, RunOutcome, Status, Sweep
    from gmat_sweep.spec import applied_digest

    class InstantPool(Pool):
        name = "instant"
        description = "completes every batch at once"

        @property
        def capacity(self) -> int:
            return 64

        def submit(self, specs: Any) -> Future[list[RunOutcome]]:
            done: Future[list[RunOutcome]] = Future()
            done.set_result([RunOutcome(s.run_id, s.attempt, Status.OK, duration_s=1e-5,
                                        applied=applied_digest(s)) for s in specs])  # fmt: skip
            return done

    n = args["n"]
    design = Grid({"Sat.SMA": _smas(n)})
    t0 = time.perf_counter()
    Sweep(args["script"], design, out=Path(args["tmp"]) / "out", backend=InstantPool(),
          progress=False, validate=False).run()  # fmt: skip
    return {"wall_s": time.perf_counter() - t0}


CHILDREN = {"bare": child_bare, "ours": child_ours, "user-dask": child_user_dask,
            "reference": child_reference, "ceiling": child_ceiling}  # fmt: skip


def _our_pool(kind: str, tmp: Path, options: dict[str, Any]) -> Any:
    import contextlib

    if kind == "default":  # sweep() makes its own pool (LocalPool on every core)
        return contextlib.nullcontext(None)
    sys.path.insert(0, str(HERE))
    from bench import _pool  # the pools bench.py starts, on loopback

    return _pool(kind, tmp, **options)


# -- the parent ----------------------------------------------------------------------------


def _child(name: str, args: dict[str, Any], python: str = sys.executable) -> dict[str, Any]:
    """Run one child in a fresh interpreter; return its result and wall time from spawn."""
    with tempfile.TemporaryDirectory(prefix="gmat-sweep-bench-") as tmp:
        payload = json.dumps({**args, "tmp": tmp})
        t0 = time.perf_counter()
        cmd = [python, str(Path(__file__).resolve()), "--child", name, payload]
        env = None
        if str(args.get("pool", "")).startswith("mpi"):  # real Open MPI on loopback
            from gmat_sweep_mpi.testing import loopback_env, mpirun_command

            env = loopback_env()
            if args["pool"] == "mpi":  # launched: rank 0 drives, WORKERS ranks run GMAT
                cmd = mpirun_command(WORKERS + 1, *cmd[1:])
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        spawn_wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"bench child {name} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["spawn_wall_s"] = spawn_wall
    return result


def _limit(n: int, script: Path = MISSION, workers: int = WORKERS) -> float:
    """Wall time of W bare gmat-run processes side by side, from spawn to the last exit."""
    smas = _smas(n)
    with tempfile.TemporaryDirectory(prefix="gmat-sweep-bench-") as tmp:
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", "bare",
                              json.dumps({"script": str(script), "smas": smas[w::workers],
                                          "tmp": tmp})], stdout=subprocess.DEVNULL)
            for w in range(workers)
        ]  # fmt: skip
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - t0
    if any(codes):
        raise SystemExit(f"a bare gmat-run loop failed: exit codes {codes}")
    return wall


def _reference_python() -> str:
    python = REFERENCE_VENV / "bin" / "python"
    if not python.exists():
        print(f"==> building the reference venv {REFERENCE_VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(REFERENCE_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "gmat-sweep==0.6.0",
                        "distributed", "bokeh!=3.0.*"], check=True)  # fmt: skip
    return str(python)


def _ratio_summary(ratios: list[float]) -> str:
    return (
        f"median {statistics.median(ratios):.3f} (pairs: {', '.join(f'{r:.3f}' for r in ratios)})"
    )


def figure_real(pairs: int) -> list[tuple[str, str]]:
    if not os.environ.get("GMAT_ROOT"):
        raise SystemExit("real: set GMAT_ROOT to a real GMAT install (scripts/build_real_gmat.sh)")
    rows = []
    reference = _reference_python()
    for n in (600, 200):
        ours, ref = [], []
        for pair in range(pairs):
            order = (
                ("limit", "ours", "reference") if pair % 2 == 0 else ("ours", "limit", "reference")
            )
            walls: dict[str, float] = {}
            for side in order:
                if side == "limit":
                    walls[side] = _limit(n)
                elif side == "ours":
                    walls[side] = _child(
                        "ours", {"script": str(MISSION), "n": n, "pool": "default"}
                    )["wall_s"]
                elif n == 600 or pair == 0:
                    walls[side] = _child(
                        "reference", {"script": str(MISSION), "n": n}, python=reference
                    )["wall_s"]
            ours.append(walls["limit"] / walls["ours"])
            if "reference" in walls:
                ref.append(walls["limit"] / walls["reference"])
            print(f"    real {n}: {walls}", file=sys.stderr, flush=True)
        rows.append(
            (f"real GMAT, {n}-run grid, {WORKERS} workers: sweep() / limit", _ratio_summary(ours))
        )
        rows.append((f"real GMAT, {n}-run grid: reference 0.6.0 / limit", _ratio_summary(ref)))
    return rows


def figure_pools(pairs: int, pools: list[str]) -> list[tuple[str, str]]:
    from gmat_sweep.demo import example_script

    os.environ.setdefault("GMAT_ROOT", _stand_in())
    rows = []
    for kind in pools:
        ratios = []
        for pair in range(pairs):
            sides = ("local", kind) if pair % 2 == 0 else (kind, "local")
            walls = {s: _child("ours", {"script": str(example_script()), "n": 600, "pool": s,
                                        "warm": True})["wall_s"] for s in sides}  # fmt: skip
            ratios.append(walls["local"] / walls[kind])
            print(f"    pools {kind}: {walls}", file=sys.stderr, flush=True)
        rows.append(
            (f"stand-in 600 runs, warm pools: {kind} runs/s / local runs/s", _ratio_summary(ratios))
        )
    return rows


def _idle_mission() -> Path:
    """The example mission propagated for two minutes (a few report rows): on the stand-in
    a run then costs ~10 ms of CPU besides its idle wait, where the full mission's
    two-hour propagation costs ~30 ms, which 16 slots' worth of runs on 2 cores turn
    into CPU contention the figure is not about ("runs that do not use the CPU")."""
    sys.path.insert(0, str(HERE))
    from bench import example_mission_coasting

    folder = Path(tempfile.mkdtemp(prefix="gmat-sweep-bench-mission-"))
    atexit.register(shutil.rmtree, folder, True)
    return example_mission_coasting(folder / "idle.script", end_s=120, first_s=60)


def figure_user_dask(pairs: int) -> list[tuple[str, str]]:
    os.environ["GMAT_ROOT"] = _stand_in(wait_s=0.5)
    reference = _reference_python()
    n, workers = 480, 16
    ours, ref, limits = [], [], []
    idle_cores: list[float] = []
    sweep_cores: list[float] = []
    mission = _idle_mission()
    for pair in range(pairs):
        # Both sides in every pair, alternating which goes first (the reference does a
        # quarter of the runs: it is 5x slower).
        args = {"script": str(mission), "n": n, "workers": workers}
        walls: dict[str, float] = {}
        sides = ("limit", "ours", "reference") if pair % 2 == 0 else ("reference", "ours", "limit")
        for side in sides:
            if side == "limit":  # 16 bare gmat-run processes side by side, from cold
                walls[side] = _limit(n, mission, workers)
            elif side == "ours":
                timed = _child("user-dask", {**args, "which": "ours", "idle_s": 5.0})
                walls[side] = timed["wall_s"]
                idle_cores.append(timed["idle_cores"])
                sweep_cores.append(timed["sweep_cores"])
            else:
                walls[side] = _child("user-dask", {**args, "which": "reference", "n": n // 4},
                                     python=reference)["wall_s"]  # fmt: skip
        ours.append(n / walls["ours"] / (workers / 0.5))
        limits.append(n / walls["limit"] / (workers / 0.5))
        ref.append(n // 4 / walls["reference"] / (workers / 0.5))
        print(f"    user-dask: {walls}", file=sys.stderr, flush=True)
    vs = [o / r for o, r in zip(ours, ref, strict=True)]
    cores = os.cpu_count()
    return [
        (f"user LocalCluster x{workers}, 0.5 s runs: ours runs/s / 32", _ratio_summary(ours)),
        (f"same, reference 0.6.0 runs/s / 32 ({n // 4} runs)", _ratio_summary(ref)),
        ("same, ours / reference", _ratio_summary(vs)),
        (
            f"same, {workers} bare gmat-run processes from cold (own imports each), runs/s / 32",
            _ratio_summary(limits),
        ),
        (
            "same, ours / those bare processes",
            _ratio_summary([o / m for o, m in zip(ours, limits, strict=True)]),
        ),
        (f"same, cores busy with the cluster idle, of {cores}", _ratio_summary(idle_cores)),
        (f"same, cores busy during our sweep, of {cores}", _ratio_summary(sweep_cores)),
    ]


def figure_efficiency(pairs: int, pools: list[str]) -> list[tuple[str, str]]:
    from gmat_sweep.demo import example_script

    # Runs of 0.2 s: the stand-in's own ~35 ms plus a CPU-burning run cost.
    os.environ["GMAT_ROOT"] = _stand_in(run_cost_s=0.165)
    run_s = float(subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench; "
         "print(bench._engine_time(20))"], capture_output=True, text=True, check=True
    ).stdout.split()[-1])  # fmt: skip
    n = 100
    ideal = n * run_s / WORKERS  # one run's cost alone, no start, W cores all the runs' own
    script = example_script()
    limits: list[float] = []
    rows = []
    for kind in pools:
        calls, whole, by_name, vs_limit = [], [], [], []
        for pair in range(pairs):
            # The physical limit, side by side with ours: W bare gmat-run processes from
            # cold (interpreter, gmat-run's imports, GMAT's bootstrap, then the runs).
            if pair % 2 == 0:
                limit = _limit(n, script)
            timed = _child("ours", {"script": str(script), "n": n, "pool": kind})
            calls.append(ideal / timed["wall_s"])
            whole.append(ideal / timed["with_pool_s"])
            named = _child("ours", {"script": str(script), "n": n,
                                    "pool": f"by-name:{kind}"})  # fmt: skip
            by_name.append(ideal / named["wall_s"])
            if pair % 2 == 1:
                limit = _limit(n, script)
            limits.append(ideal / limit)
            vs_limit.append(limit / named["wall_s"])
        label = f"efficiency, {n} runs of {run_s:.3f} s"
        rows.append((f"{label}, sweep() on a pool just made: {kind}", _ratio_summary(calls)))
        rows.append((f"{label}, pool start + sweep() + close: {kind}", _ratio_summary(whole)))
        rows.append((f"{label}, whole sweep(backend={kind!r}) call: {kind}",
                     _ratio_summary(by_name)))  # fmt: skip
        rows.append((f"same, whole sweep(backend={kind!r}) call / limit: {kind}",
                     _ratio_summary(vs_limit)))  # fmt: skip
    rows.append((f"{label}, the limit: {WORKERS} bare gmat-run processes from cold",
                 _ratio_summary(limits)))  # fmt: skip
    return rows


def figure_ceiling(pairs: int) -> list[tuple[str, str]]:
    from gmat_sweep.demo import example_script

    n = 200_000
    rates = [
        n / _child("ceiling", {"script": str(example_script()), "n": n})["wall_s"]
        for _ in range(pairs)
    ]
    return [
        (
            f"driver ceiling, {n} runs that cost nothing: runs/s",
            f"median {statistics.median(rates):.0f} ({', '.join(f'{r:.0f}' for r in rates)})",
        )
    ]


def _stand_in(**knobs: float) -> str:
    from gmat_sweep.testing import FakeGmatRule, make_fake_gmat_install

    rules = [FakeGmatRule(action="wait", seconds=knobs.pop("wait_s"))] if "wait_s" in knobs else []
    base = Path(tempfile.mkdtemp(prefix="gmat-sweep-bench-gmat-"))
    atexit.register(shutil.rmtree, base, True)
    return str(make_fake_gmat_install(base / "GMAT", rules=rules, **knobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "figures", nargs="+", choices=["real", "pools", "user-dask", "efficiency", "ceiling"]
    )
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--pools", nargs="+", default=["dask", "ray", "slurm"])
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("payload", nargs="?", help=argparse.SUPPRESS)
    if "--child" in sys.argv:
        name, payload = sys.argv[2], sys.argv[3]
        print(json.dumps(CHILDREN[name](json.loads(payload))))
        return
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    for figure in args.figures:
        if figure == "real":
            rows += figure_real(args.pairs)
        elif figure == "pools":
            rows += figure_pools(args.pairs, args.pools)
        elif figure == "user-dask":
            rows += figure_user_dask(args.pairs)
        elif figure == "efficiency":
            rows += figure_efficiency(args.pairs, ["local", "dask"])
        elif figure == "ceiling":
            rows += figure_ceiling(args.pairs)
    sys.path.insert(0, str(HERE))
    from _results import publish

    publish(rows, column="ratio", title="throughput", record=args.record)


if __name__ == "__main__":
    main()
