"""SlurmPool on a real single-node Slurm: worker jobs, allocation mode, a cancelled job."""

from __future__ import annotations

import json
import subprocess
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest

from gmat_sweep import LocalPool, Sweep, sweep
from gmat_sweep.manifest import MANIFEST_NAME
from gmat_sweep.testing import (
    FakeGmatRule,
    assert_sweeps_equal,
    kit_script,
    lost_batches,
    make_fake_gmat_install,
    manifest_lines,
    wait_until,
)
from gmat_sweep.testing.suites import reference_design
from gmat_sweep_slurm import SlurmPool
from gmat_sweep_slurm.testing import squeue_jobs

from .conftest import jobs_options, run_driver_job

SCRIPT = kit_script()


def _run_lines(out: Path) -> list[dict[str, object]]:
    return manifest_lines(out, "run")


def test_workers_are_slurm_jobs_that_leave_with_the_pool(
    slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "GMAT")))
    node_tmp = tmp_path / "node-tmp"  # the worker jobs' TMPDIR (sbatch exports ours)
    node_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(node_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # the driver's (the scheduler's) too
    with SlurmPool(**jobs_options()) as pool:  # type: ignore[arg-type]
        assert wait_until(lambda: len(squeue_jobs("dask-worker")) == 2), squeue_jobs()
        jobs_dirs = lambda: list(node_tmp.glob("gmat-sweep-slurm-job-*"))  # noqa: E731
        assert wait_until(lambda: len(jobs_dirs()) == 2), list(node_tmp.iterdir())  # one a job
        df = sweep(SCRIPT, grid={"Sat.SMA": [7000.0, 7100.0, 7200.0]}, backend=pool,
                   out=tmp_path / "o", progress=False)  # fmt: skip
        assert (df["__status"] == "ok").all()
        options = pool.options()
        assert options["mode"] == "jobs" and options["sizing"]["threads_per_worker"] == 1
    assert wait_until(lambda: not squeue_jobs("dask-worker"), timeout=60), squeue_jobs()
    # Nothing of Dask's is left in the node's or the driver's temp dir (no
    # dask-scratch-space, no locks); the ended worker jobs' empty gmat-sweep-scratch-<pid>-*
    # folders may stay (by design: the next run on the node removes them).
    left = lambda: [p for p in node_tmp.iterdir() if not p.name.startswith("gmat-sweep-scratch-")]  # noqa: E731
    assert wait_until(lambda: not left())
    assert not left(), list(node_tmp.iterdir())
    session = next(
        json.loads(line)
        for line in (tmp_path / "o" / MANIFEST_NAME).read_text().splitlines()
        if '"kind":"session"' in line
    )
    assert session["backend"]["options"]["sizing"]["memory_per_worker"] == 2**30


def test_a_worker_job_cancelled_mid_batch_costs_only_time(
    slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs of 0.05 s: the dispatcher sends batches of several runs; commits at once.
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "GMAT", run_cost_s=0.05)))
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    grid = {"Sat.SMA": [6900.0 + 4 * i for i in range(128)]}
    out = tmp_path / "slurm"
    cancelled: list[str] = []

    def cancel_one_worker_job() -> None:
        if wait_until(lambda: len(_run_lines(out)) >= 30, timeout=120):
            job = squeue_jobs("dask-worker")[0][0]
            subprocess.run(["scancel", job], check=True)
            cancelled.append(job)

    with SlurmPool(**jobs_options()) as pool:  # type: ignore[arg-type]
        thread = threading.Thread(target=cancel_one_worker_job, daemon=True)
        thread.start()
        df = sweep(SCRIPT, grid=grid, backend=pool, out=out, progress=False)
        thread.join(timeout=5)
    assert cancelled, "no worker job was cancelled mid-sweep"
    not_ok = set(df.index.get_level_values("run_id")[df["__status"] != "ok"])
    assert not not_ok, [line for line in _run_lines(out) if line["run_id"] in not_ok]
    assert any(len(batch) > 1 for batch in lost_batches(out)), (
        f"no batch of several runs was lost: {lost_batches(out)}"
    )
    ok_ids = [line["run_id"] for line in _run_lines(out) if line["status"] == "ok"]
    assert sorted(ok_ids) == list(range(128))  # a finished run is never rerun or duplicated
    with LocalPool(2) as local:
        reference = sweep(SCRIPT, grid=grid, backend=local, out=tmp_path / "ref", progress=False)
    assert df.equals(reference)


@pytest.mark.parametrize(
    "request_lines",
    [
        # How users write a one-driver job: one task holding the CPUs.
        ["--ntasks=1", "--cpus-per-task=2"],
        # One task per CPU: sbatch exports SLURM_NTASKS=2 and SLURM_CPUS_PER_TASK is unset.
        ["--ntasks=2"],
    ],
    ids=["ntasks-1-cpus-2", "ntasks-2"],
)
def test_allocation_mode_starts_every_sized_worker_and_each_runs_runs(
    slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request_lines: list[str]
) -> None:
    # Runs of 0.2 s keep both workers busy, so each is seen in the task stream.
    gmat = make_fake_gmat_install(tmp_path / "GMAT", run_cost_s=0.2)
    monkeypatch.setenv("GMAT_ROOT", str(gmat))  # for the local reference
    out = tmp_path / "in-allocation"
    report = tmp_path / "workers.json"
    job, log = run_driver_job(
        tmp_path,
        textwrap.dedent(f"""
        import json
        from distributed import get_task_stream
        from gmat_sweep import Sweep
        from gmat_sweep.testing import kit_script
        from gmat_sweep.testing.suites import reference_design
        from gmat_sweep_slurm import SlurmPool
        with SlurmPool.auto(interface="lo") as pool:
            assert pool.mode == "allocation", pool.mode
            sized = pool.options()["sizing"]["workers_per_node"]
            pool.client.wait_for_workers(sized, timeout=60)
            with get_task_stream(client=pool.client) as stream:
                Sweep(kit_script(), reference_design("grid"), out={str(out)!r}, backend=pool,
                      progress=False).run()
            workers = pool.client.scheduler_info()["workers"]
            names = {{address: w["name"] for address, w in workers.items()}}
            ran = sorted({{names.get(task["worker"], task["worker"]) for task in stream.data}})
            with open({str(report)!r}, "w") as f:
                json.dump({{"sized": sized, "names": sorted(names.values()), "ran": ran}}, f)
        print("gmat-sweep driver finished", flush=True)
    """),
        gmat,
        request_lines,
    )
    assert "Slurm sizing: 1 node(s) x 2 worker(s)" in log, log[-3000:]
    assert "gmat-sweep driver finished" in log, log[-3000:]
    workers = json.loads(report.read_text())
    # Every sized worker joined under its own name, and every one of them ran runs.
    assert workers["sized"] == 2
    assert workers["names"] == ["slurm-0", "slurm-1"], workers
    assert workers["ran"] == ["slurm-0", "slurm-1"], workers
    with LocalPool(2) as local:
        Sweep(SCRIPT, reference_design("grid"), out=tmp_path / "ref", backend=local,
              progress=False).run()  # fmt: skip
    assert_sweeps_equal(out, tmp_path / "ref")
    session = next(
        json.loads(line)
        for line in (out / MANIFEST_NAME).read_text().splitlines()
        if '"kind":"session"' in line
    )
    assert session["backend"]["options"]["mode"] == "allocation"
    assert session["backend"]["options"]["job_id"] == job


def test_a_run_that_hangs_in_allocation_mode_times_out_and_its_gmat_is_gone(
    slurm: Path, tmp_path: Path
) -> None:
    gmat = make_fake_gmat_install(
        tmp_path / "GMAT", rules=[FakeGmatRule(when={"Sat.SMA": 7100.0}, action="hang")]
    )
    out = tmp_path / "o"
    report = tmp_path / "report.json"
    run_driver_job(
        tmp_path,
        textwrap.dedent(f"""
        import json, warnings
        from gmat_sweep import sweep
        from gmat_sweep.processes import process_stat
        from gmat_sweep.testing import hung_processes, kit_script
        from gmat_sweep_slurm import SlurmPool
        with SlurmPool.auto(interface="lo") as pool:
            assert pool.mode == "allocation", pool.mode
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                df = sweep(kit_script(), grid={{"Sat.SMA": [7000.0, 7100.0, 7200.0]}},
                           backend=pool, out={str(out)!r}, timeout=5, progress=False)
            # Checked while the allocation and its workers still run.
            hung = hung_processes({str(gmat)!r})
            alive = [p for p, start in hung if (process_stat(p) or (0, ""))[1] == start]
        status = df.groupby(level="run_id")["__status"].first().to_dict()
        with open({str(report)!r}, "w") as f:
            json.dump({{"status": {{str(k): v for k, v in status.items()}},
                       "hung": len(hung), "alive": alive}}, f)
    """),
        gmat,
        ["--ntasks=1", "--cpus-per-task=2"],
    )
    result = json.loads(report.read_text())
    assert result["status"] == {"0": "ok", "1": "timeout", "2": "ok"}, result
    assert result["hung"] == 1 and result["alive"] == [], result
    [entry] = [e for e in manifest_lines(out, "run") if e["run_id"] == 1]
    assert "timeout of 5 s" in entry["error"]["message"], entry


def test_backend_slurm_by_name(
    slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "GMAT")))
    df = sweep(SCRIPT, grid={"Sat.SMA": [7000.0]}, backend="slurm",
               backend_options=jobs_options(), out=tmp_path / "o", progress=False)  # fmt: skip
    assert set(df["__status"]) == {"ok"} and set(df.index.get_level_values("run_id")) == {0}
