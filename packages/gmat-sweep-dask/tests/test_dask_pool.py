"""DaskPool on real clusters: lost workers, elastic scaling, ownership, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from distributed import Client, get_task_stream
from pandas.testing import assert_frame_equal

from gmat_sweep import LocalPool, sweep
from gmat_sweep.cli import main
from gmat_sweep.manifest import MANIFEST_NAME
from gmat_sweep.processes import process_stat
from gmat_sweep.testing import (
    FakeGmatRule,
    kit_gmat_root,
    kit_script,
    lost_batches,
    make_fake_gmat_install,
    manifest_lines,
    wait_until,
)
from gmat_sweep_dask import DaskPool
from gmat_sweep_dask.testing import DaskCliCluster

SCRIPT = kit_script()


def _run_lines(out: Path) -> list[dict[str, object]]:
    return manifest_lines(out, "run")


def _when(condition: object, then: object, timeout: float = 120.0) -> threading.Thread:
    """Run ``then()`` in a thread as soon as ``condition()`` holds."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():  # type: ignore[operator]
                then()  # type: ignore[operator]
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def quick_cli_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DaskCliCluster]:
    """Runs of 0.05 s, so the dispatcher sends batches of several runs; commits at once."""
    root = make_fake_gmat_install(tmp_path / "GMAT-quick", run_cost_s=0.05)
    monkeypatch.setenv("GMAT_ROOT", str(root))
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    with DaskCliCluster.started(tmp_path, root) as cluster:
        yield cluster


def test_a_worker_killed_mid_batch_costs_only_time(
    quick_cli_cluster: DaskCliCluster, tmp_path: Path
) -> None:
    grid = {"Sat.SMA": [6900.0 + 4 * i for i in range(128)]}
    out = tmp_path / "dask"
    victim = quick_cli_cluster.workers[0]
    watcher = _when(lambda: len(_run_lines(out)) >= 30, victim.kill)
    with DaskPool(address=quick_cli_cluster.address) as pool:
        df = sweep(SCRIPT, grid=grid, backend=pool, out=out, progress=False)
    watcher.join(timeout=1)
    assert victim.poll() is not None, "the worker was not killed during the sweep"
    lines = _run_lines(out)
    assert any(len(batch) > 1 for batch in lost_batches(out)), (
        f"no batch of several runs was lost: {lost_batches(out)}"
    )
    assert (df["__status"] == "ok").all()
    with LocalPool(2) as local:
        reference = sweep(SCRIPT, grid=grid, backend=local, out=tmp_path / "local", progress=False)
    assert_frame_equal(df, reference, check_exact=True)
    ok_ids = [line["run_id"] for line in lines if line["status"] == "ok"]
    assert sorted(ok_ids) == list(range(128))  # a finished run is never rerun or duplicated


def test_capacity_follows_the_cluster_as_it_scales(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every run waits at a gate that opens only once the second worker has joined, so the
    # sweep is still under way when it does, however long the worker takes to start.
    gate = tmp_path / "gate"
    root = make_fake_gmat_install(
        tmp_path / "GMAT-gated", run_cost_s=0.4,
        rules=[FakeGmatRule(when={}, action="gate", path=gate, seconds=180.0)],
    )  # fmt: skip
    monkeypatch.setenv("GMAT_ROOT", str(root))
    grid = {"Sat.SMA": [6900.0 + 25 * i for i in range(12)]}
    out = tmp_path / "o"
    joined: list[int] = []
    with DaskPool(n_workers=1) as pool:
        assert pool.capacity == 1

        def scale_then_open_the_gate() -> None:
            try:
                if wait_until(lambda: bool(pool.client.processing().get(_only_worker(pool))), 120):
                    pool.cluster.scale(2)
                    pool.client.wait_for_workers(2, timeout=120)
                    joined.append(len(pool.client.nthreads()))
            finally:
                gate.touch()

        scaler = threading.Thread(target=scale_then_open_the_gate, daemon=True)
        scaler.start()
        with get_task_stream(pool.client) as stream:
            df = sweep(SCRIPT, grid=grid, backend=pool, out=out, progress=False)
        scaler.join(timeout=10)
        assert joined == [2], "the second worker did not join while the sweep waited"
        assert wait_until(lambda: pool.capacity == 2, timeout=10), pool.capacity
    assert (df["__status"] == "ok").all()
    workers = {t["worker"] for t in stream.data if str(t["key"]).startswith("gmat-sweep-runs-")}
    assert len(workers) == 2, "the worker that joined mid-sweep got no runs"


def _only_worker(pool: DaskPool) -> str:
    [address] = pool.client.nthreads()
    return str(address)


def test_a_worker_of_the_pools_own_localcluster_killed_mid_batch_costs_only_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The LocalCluster the pool starts with worker processes (nannies, allowed-failures
    # 0): one SIGKILLed mid-sweep; the runs of its batch are recorded lost and rerun,
    # none twice.
    quick = make_fake_gmat_install(tmp_path / "GMAT-quick", run_cost_s=0.05)
    monkeypatch.setenv("GMAT_ROOT", str(quick))
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    grid = {"Sat.SMA": [6900.0 + 4 * i for i in range(128)]}
    out = tmp_path / "dask"
    killed: list[int] = []
    with DaskPool(n_workers=2, processes=True) as pool:
        assert pool.options()["protocol"] == "tls"  # worker processes: TLS by default
        pids = pool.client.run(os.getpid)
        victim = next(iter(pids.values()))

        def kill() -> None:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        watcher = _when(lambda: len(_run_lines(out)) >= 30, kill)
        df = sweep(SCRIPT, grid=grid, backend=pool, out=out, progress=False)
        watcher.join(timeout=1)
    assert killed == [victim], "the worker was not killed during the sweep"
    assert process_stat(victim) is None, "the killed worker process still runs"
    lines = _run_lines(out)
    assert any(len(batch) > 1 for batch in lost_batches(out)), (
        f"no batch of several runs was lost: {lost_batches(out)}"
    )
    assert (df["__status"] == "ok").all()
    ok_ids = [line["run_id"] for line in lines if line["status"] == "ok"]
    assert sorted(ok_ids) == list(range(128))  # a finished run is never rerun or duplicated
    with LocalPool(2) as local:
        reference = sweep(SCRIPT, grid=grid, backend=local, out=tmp_path / "local", progress=False)
    assert_frame_equal(df, reference, check_exact=True)


def test_close_with_a_users_client_cancels_only_the_pools_unfinished_tasks(
    tmp_path: Path,
) -> None:
    from distributed import Event

    from gmat_sweep.preflight import canonical_sha256
    from gmat_sweep.spec import RunSpec

    # Functions defined here travel by value (a test module is not importable on workers).
    def _wait_at_event(name: str) -> str:
        from distributed import Event

        assert Event(name).wait(120), "the test never set the event"
        return "the user's own task finished"

    def _task_states(dask_scheduler: Any) -> dict[str, str]:
        return {str(key): task.state for key, task in dask_scheduler.tasks.items()}

    gate = tmp_path / "gate"
    root = make_fake_gmat_install(
        tmp_path / "GMAT-gated",
        rules=[FakeGmatRule(when={}, action="gate", path=gate, seconds=120.0)],
    )
    text = SCRIPT.read_text()
    specs = [
        RunSpec(run_id=i, overrides={"Sat.SMA": 7000.0 + i}, script=str(SCRIPT),
                out_dir=str(tmp_path / "o"), script_sha256=canonical_sha256(text),
                script_text=text)
        for i in range(3)
    ]  # fmt: skip
    (tmp_path / "cluster").mkdir()
    with (
        DaskCliCluster.started(tmp_path / "cluster", root, n_workers=2) as cluster,
        Client(cluster.address) as client,  # type: ignore[no-untyped-call]
    ):
        mine = client.submit(_wait_at_event, "go", key="users-own-task", pure=False)
        other = client.submit(sum, [1, 2], key="users-finished-task")
        assert other.result(timeout=60) == 3
        pool = DaskPool(client=client)
        relays = [pool.submit([spec]) for spec in specs]  # held at the gate, or queued
        # One worker runs the user's task; the other holds one of the pool's at the gate.
        assert wait_until(lambda: _pool_keys(client.processing()), timeout=60), client.processing()
        pool.close()
        for relay in relays:
            assert "cancelled" in str(relay.exception(timeout=60)), relay
        assert wait_until(lambda: not _pool_keys(client.run_on_scheduler(_task_states)), 30), (
            f"the pool's tasks are still on the scheduler: {client.run_on_scheduler(_task_states)}"
        )
        assert client.status == "running" and mine.status == "pending"
        assert other.status == "finished" and other.result() == 3
        Event("go", client=client).set()
        gate.touch()  # the cancelled batch still running on a worker ends too
        assert mine.result(timeout=60) == "the user's own task finished"


def _pool_keys(where: dict[str, Any]) -> list[str]:
    """The pool's task keys in ``client.processing()`` (worker -> keys) or the scheduler's
    task states (key -> state)."""
    keys = [str(k) for v in where.values() if isinstance(v, (list, tuple, set)) for k in v]
    keys += [str(k) for k in where if isinstance(where[k], str)]
    return [k for k in keys if k.startswith("gmat-sweep-runs-")]


def test_close_keeps_a_cluster_it_did_not_start(dask_cli_cluster: DaskCliCluster) -> None:
    with Client(dask_cli_cluster.address) as client:  # type: ignore[no-untyped-call]
        pool = DaskPool(client=client)
        assert pool.options()["scheduler"] == dask_cli_cluster.address
        pool.close()
        pool.close()
        assert client.status == "running"
        assert len(client.nthreads()) == 2
    pool = DaskPool(address=dask_cli_cluster.address)
    pool.close()
    with Client(dask_cli_cluster.address) as client:  # type: ignore[no-untyped-call]
        assert len(client.nthreads()) == 2


def test_close_tears_down_the_local_cluster_it_started() -> None:
    pool = DaskPool(n_workers=1)
    cluster = pool.cluster
    pool.close()
    assert cluster.status.name == "closed"
    assert pool.client.status == "closed"
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(None)  # type: ignore[arg-type]


def test_contradictory_options_are_refused() -> None:
    with pytest.raises(ValueError, match="either client= or address="):
        DaskPool(client=object(), address="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="n_workers configure the LocalCluster"):
        DaskPool(address="tcp://127.0.0.1:1", n_workers=4)
    with pytest.raises(ValueError, match="n_workers configure the LocalCluster"):
        DaskPool(address="tcp://127.0.0.1:1", n_workers=0)


@pytest.mark.parametrize("n_workers", [0, -2, 1.5, True])
def test_a_localcluster_without_workers_is_refused_before_it_starts(n_workers: Any) -> None:
    with pytest.raises(ValueError, match=r"n_workers must be a whole number of workers >= 1"):
        DaskPool(n_workers=n_workers)


def test_the_cli_runs_on_a_cluster_by_address(
    dask_cli_cluster: DaskCliCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(dask_cli_cluster.env["GMAT_ROOT"]))
    out = tmp_path / "o"
    result = CliRunner().invoke(
        main,
        ["run", str(SCRIPT), "--grid", "Sat.SMA=7000:7300:4", "--backend", "dask",
         "--backend-opt", f"address={dask_cli_cluster.address}", "--out", str(out),
         "--no-progress"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    session = next(
        json.loads(line)
        for line in (out / MANIFEST_NAME).read_text().splitlines()
        if '"kind":"session"' in line
    )
    assert session["backend"]["name"] == "dask"
    assert session["backend"]["options"]["scheduler"] == dask_cli_cluster.address


def test_the_backend_is_found_by_name_and_class_once_installed() -> None:
    from gmat_sweep.backends import DaskPool as FromBackends
    from gmat_sweep.registry import available_backends

    assert FromBackends is DaskPool
    entry = next(e for e in available_backends() if e.name == "dask")
    assert entry.distribution == "gmat-sweep-dask"


def test_a_worker_that_cannot_see_the_sweep_directory_completes_it_bit_equal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No shared filesystem: the worker's mount namespace has an empty tmpfs over the folder
    holding the script and ``out``; the script travels with the runs, the outputs come back
    with their outcomes, and the sweep equals the local one bit for bit."""
    from gmat_sweep import Sweep
    from gmat_sweep.designs import Grid
    from gmat_sweep.testing import kit_gmat_root
    from gmat_sweep.testing.compare import assert_sweeps_equal

    monkeypatch.setenv("GMAT_ROOT", str(kit_gmat_root()))
    driver_only = tmp_path / "driver-only"
    driver_only.mkdir()
    script = driver_only / "kit_orbit.script"
    script.write_text(kit_script().read_text())
    design = Grid({"Sat.SMA": [6900.0, 7000.0, 7100.0], "Sat.INC": [0.0, 51.6]})
    (tmp_path / "cluster").mkdir()
    cluster = DaskCliCluster(tmp_path / "cluster", kit_gmat_root())
    try:
        cluster.add_worker(hide=[driver_only])
        cluster.wait_for_workers(1)
        with DaskPool(address=cluster.address) as pool:
            seen = pool.client.run(lambda: os.path.exists(str(script)))
            assert list(seen.values()) == [False], "the worker must not see the driver's folder"
            Sweep(script, design, out=driver_only / "out", backend=pool, progress=False).run()
    finally:
        cluster.close()
    with LocalPool(2) as local:
        Sweep(script, design, out=tmp_path / "local", backend=local, progress=False).run()
    assert_sweeps_equal(driver_only / "out", tmp_path / "local")


def test_keep_gmat_files_on_a_worker_that_cannot_see_out_is_an_error_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gmat_sweep import Sweep
    from gmat_sweep.designs import Grid
    from gmat_sweep.testing import kit_gmat_root

    monkeypatch.setenv("GMAT_ROOT", str(kit_gmat_root()))
    driver_only = tmp_path / "driver-only"
    driver_only.mkdir()
    script = driver_only / "kit_orbit.script"
    script.write_text(kit_script().read_text())
    out = driver_only / "out"
    (tmp_path / "cluster").mkdir()
    cluster = DaskCliCluster(tmp_path / "cluster", kit_gmat_root())
    said = ""
    try:
        cluster.add_worker(hide=[driver_only])
        cluster.wait_for_workers(1)
        with DaskPool(address=cluster.address) as pool:
            try:
                Sweep(script, Grid({"Sat.SMA": [7000.0]}), out=out, backend=pool,
                      progress=False, keep_gmat_files=True).run()  # fmt: skip
            except Exception as exc:  # refused before or during the run: either says why
                said = str(exc)
    finally:
        cluster.close()
    if not said:
        said = " ".join(
            str(line["error"]) for line in manifest_lines(out, "run") if line.get("error")
        )
    # Either the sweep or the run's error names the option and the folder the worker lacks.
    assert "keep_gmat_files" in said and str(out) in said, said or "no error at all"
    assert "GMAT was not run" in said  # refused before spending the run's time
    assert not (out / "runs").exists() or any((out / "runs").iterdir())


def test_the_pools_own_localcluster_runs_its_workers_as_threads_of_the_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No worker process to start, so a script needs no __main__ guard; one worker per
    # core; the GMAT hosts of the worker threads stop when the pool closes.
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "GMAT")))
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import os\n"
        "from dask.system import CPU_COUNT\n"
        "from gmat_sweep import hosts, sweep\n"
        "from gmat_sweep.testing import kit_script, wait_until\n"
        "from gmat_sweep_dask import DaskPool\n"
        "pool = DaskPool()\n"
        "pids = set(pool.client.run(os.getpid).values())\n"
        "assert pids == {os.getpid()}, pids\n"
        "assert pool.capacity == CPU_COUNT, (pool.capacity, CPU_COUNT)\n"
        "assert pool.options()['processes'] is False, pool.options()\n"
        "df = sweep(kit_script(), grid={'Sat.SMA': [7000.0, 7100.0, 7200.0, 7300.0]},\n"
        "           backend=pool, out='o', progress=False)\n"
        "assert (df['__status'] == 'ok').all()\n"
        "ran = list(hosts._all_hosts)\n"
        "assert ran, 'no GMAT host served the runs'\n"
        "pool.close()\n"
        "gone = wait_until(lambda: not any(h.alive() for h in ran), 30)\n"
        "assert gone, 'hosts outlived the pool'\n"
        "print('pool made and closed')\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "pool made and closed" in done.stdout


def test_a_pool_made_at_module_level_says_to_guard_the_script(tmp_path: Path) -> None:
    # With worker processes, Dask's spawned workers import the script again; without the
    # hint the user sees only Dask's "Nanny failed to start".
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from gmat_sweep_dask import DaskPool\n"
        "pool = DaskPool(n_workers=1, processes=True)\n"
        "pool.close()\n"
        "print('pool made and closed')\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    said = done.stdout + done.stderr
    assert done.returncode != 0, said[-3000:]
    assert "pool made and closed" not in said
    assert 'Put it under `if __name__ == "__main__":` in the script' in said, said[-3000:]


def test_a_pool_never_closed_leaves_no_folder_and_no_worker_at_exit(tmp_path: Path) -> None:
    # A script that makes a DaskPool, runs a sweep on it and exits without close():
    # the LocalCluster and its private working folder go at exit.
    temp = tmp_path / "temp"
    temp.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(
        "import os\n"
        "from gmat_sweep import sweep\n"
        "from gmat_sweep_dask import DaskPool\n"
        "if __name__ == '__main__':\n"
        "    pool = DaskPool(n_workers=1, processes=True)\n"
        f"    sweep({str(SCRIPT)!r}, grid={{'Sat.SMA': [7000.0, 7100.0]}}, backend=pool,\n"
        f"          out={str(tmp_path / 'out')!r}, progress=False)\n"
        "    print(*pool.client.run(os.getpid).values())\n"
    )
    env = {**os.environ, "TMPDIR": str(temp), "GMAT_ROOT": str(kit_gmat_root())}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    [worker] = [int(pid) for pid in done.stdout.split()]
    assert sorted(p.name for p in temp.iterdir() if p.name.startswith("gmat-sweep-dask-")) == []
    deadline = time.monotonic() + 10
    while process_stat(worker) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process_stat(worker) is None, "the pool's worker process outlived the driver"
