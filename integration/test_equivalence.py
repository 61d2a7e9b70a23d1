"""The backend never changes the answer: every installed backend, every deployment shape.

Each shape runs the kit's reference sweeps (16-run grid, 32-run Monte Carlo, 16-run Latin
hypercube; the debug pool, which runs in this process, one run) and must give a
DataFrame bit-equal to LocalPool's and an equal manifest (less timings,
fingerprints and the backend field).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from gmat_sweep.designs import Grid
from gmat_sweep.manifest import Manifest
from gmat_sweep.orchestrator import Sweep
from gmat_sweep.pools.local import LocalPool
from gmat_sweep.processes import descendants
from gmat_sweep.testing import assert_sweeps_equal, kit_gmat_root, kit_script
from gmat_sweep.testing.suites import _reference_sweep, reference_design

from .conftest import SHAPES, BackendShape, end_driver_session, make_pool

KINDS = ("grid", "monte_carlo", "latin_hypercube")
ONE_RUN = Grid({"Sat.SMA": [7050.0]})


@pytest.mark.timeout(900)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.id)
def test_every_backend_gives_the_local_answer(
    shape: BackendShape, engines: Any, tmp_path: Path
) -> None:
    engine = engines(shape)
    if shape.backend == "debug":
        with LocalPool(2) as local:
            Sweep(kit_script(), ONE_RUN, out=tmp_path / "ref", backend=local, progress=False).run()
        Sweep(kit_script(), ONE_RUN, out=tmp_path / "debug", backend="debug", progress=False).run()
        assert_sweeps_equal(tmp_path / "debug", tmp_path / "ref")
        return
    for kind in KINDS:
        out = tmp_path / kind
        with make_pool(shape, engine) as pool:  # a pool passed in is the caller's to close
            df = Sweep(
                kit_script(), reference_design(kind), out=out, backend=pool, progress=False
            ).run()
        assert (df["__status"] == "ok").all(), f"{shape.id} {kind}: not every run ended ok"
        assert_sweeps_equal(out, _reference_sweep(kind))


@pytest.mark.timeout(900)
def test_slurm_allocation_mode_gives_the_local_answer(slurm: Path, tmp_path: Path) -> None:
    """A driver sbatch'ed into an allocation runs all three reference sweeps there."""
    outs = {kind: tmp_path / kind for kind in KINDS}
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(f"""
        from gmat_sweep import Sweep
        from gmat_sweep.testing import kit_script
        from gmat_sweep.testing.suites import reference_design
        from gmat_sweep_slurm import SlurmPool
        for kind, out in {json.dumps({k: str(v) for k, v in outs.items()})}.items():
            with SlurmPool.auto(interface="lo") as pool:
                assert pool.mode == "allocation"
                Sweep(kit_script(), reference_design(kind), out=out, backend=pool,
                      progress=False).run()
    """)
    )
    batch = tmp_path / "driver.sh"
    batch.write_text(
        "#!/bin/bash\n#SBATCH --nodes=1 --ntasks=1 --cpus-per-task=2 --mem=4G\n"
        f"#SBATCH --output={tmp_path}/driver.log\n"
        f"export GMAT_ROOT={kit_gmat_root()}\n{sys.executable} {driver}\n"
        'echo "gmat-sweep driver exited $?"\n'  # Slurm may forget the job's ExitCode soon
    )
    job = subprocess.run(["sbatch", "--parsable", str(batch)], capture_output=True, text=True,
                         check=True).stdout.strip().split(";")[0]  # fmt: skip
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        queue = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True)
        if not queue.stdout.strip():
            break
        time.sleep(1)
    log = (tmp_path / "driver.log").read_text() if (tmp_path / "driver.log").exists() else ""
    assert "gmat-sweep driver exited 0\n" in log, log[-3000:]
    for kind, out in outs.items():
        assert (out / "manifest.jsonl").exists(), f"{kind} did not run:\n{log[-3000:]}"
        assert_sweeps_equal(out, _reference_sweep(kind))


def _mpi_driver(path: Path, outs: dict[str, Path]) -> Path:
    path.write_text(
        textwrap.dedent(f"""
        from gmat_sweep import Sweep
        from gmat_sweep.testing import kit_script
        from gmat_sweep.testing.suites import reference_design
        for kind, out in {json.dumps({k: str(v) for k, v in outs.items()})}.items():
            Sweep(kit_script(), reference_design(kind), out=out, backend="mpi",
                  progress=False).run()
    """)
    )
    return path


@pytest.mark.timeout(900)
def test_mpi_launched_by_mpirun_gives_the_local_answer(
    mpi_env: dict[str, str], tmp_path: Path
) -> None:
    """``mpirun -n 3 python -m mpi4py.futures driver.py``: rank 0 drives, 2 ranks run."""
    from gmat_sweep_mpi.testing import mpirun_command

    outs = {kind: tmp_path / kind for kind in KINDS}
    driver = _mpi_driver(tmp_path / "driver.py", outs)
    done = subprocess.run(mpirun_command(3, driver), env=mpi_env, capture_output=True,
                          text=True, timeout=800)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for kind, out in outs.items():
        assert Manifest.load(out).header["n_runs"] == len(reference_design(kind))
        assert_sweeps_equal(out, _reference_sweep(kind))


@pytest.mark.parametrize("backend", ["dask", "ray"])
def test_a_fresh_driver_process_repeats_the_monte_carlo(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "ray":
        request.getfixturevalue("ray_env")
    options = "{'n_workers': 2}" if backend == "dask" else "{'num_cpus': 2}"
    out = tmp_path / backend
    code = textwrap.dedent(f"""
        from gmat_sweep import Sweep
        from gmat_sweep.registry import resolve_backend
        from gmat_sweep.testing import kit_script
        from gmat_sweep.testing.suites import reference_design
        pool = resolve_backend({backend!r}, **{options})
        Sweep(kit_script(), reference_design("monte_carlo"), out={str(out)!r}, backend=pool,
              progress=False).run()
        pool.close()
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert_sweeps_equal(out, _reference_sweep("monte_carlo"))


def test_killed_on_dask_resumed_on_ray_after_moving_the_directory(
    ray_env: dict[str, str], tmp_path: Path
) -> None:
    first = tmp_path / "first"
    code = textwrap.dedent(f"""
        from gmat_sweep import Sweep
        from gmat_sweep.testing import make_fake_gmat_install, kit_script
        from gmat_sweep.testing.suites import reference_design
        from gmat_sweep_dask import DaskPool
        with DaskPool(n_workers=2) as pool:
            Sweep(kit_script(), reference_design("monte_carlo"), out={str(first)!r},
                  backend=pool, progress=False).run()
    """)
    # Commit every wake-up's runs at once, so the kill lands between committed groups.
    env = {**os.environ, "GMAT_SWEEP_COMMIT_WINDOW_S": "0"}
    driver = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, env=env)
    started: set[tuple[int, str]] = set()
    try:
        manifest = first / "manifest.jsonl"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and driver.poll() is None:
            if manifest.exists() and manifest.read_text().count('"kind":"run"') >= 8:
                break
            time.sleep(0.05)
        started = descendants(driver.pid)  # the LocalCluster's nannies and workers...
        killed_running = driver.poll() is None
    finally:
        # The driver and the LocalCluster it started, all gone before the directory moves.
        end_driver_session(driver, started)
    assert killed_running, "the driver ended before it was killed"
    finished = len(list(Manifest.load(first).run_entries()))
    assert 0 < finished < 32, f"the driver was not killed mid-sweep ({finished} runs)"
    moved = tmp_path / "elsewhere" / "mc"
    moved.parent.mkdir()
    first.rename(moved)
    from gmat_sweep_ray.testing import local_runtime_kwargs

    resumed = Sweep.from_manifest(
        moved, backend="ray", backend_options=local_runtime_kwargs(), progress=False
    ).resume()
    assert resumed.index.is_unique
    assert_sweeps_equal(moved, _reference_sweep("monte_carlo"))
    lines = [json.loads(x) for x in (moved / "manifest.jsonl").read_text().splitlines()]
    backends = [x["backend"]["name"] for x in lines if x["kind"] == "session"]
    assert backends == ["dask", "ray"]
