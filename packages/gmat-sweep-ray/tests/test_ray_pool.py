"""RayPool on real Ray: a killed worker, a fresh driver, who shuts Ray down, loopback only."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from pandas.testing import assert_frame_equal

from gmat_sweep import LocalPool, Sweep, sweep
from gmat_sweep.testing import (
    assert_sweeps_equal,
    kit_script,
    lost_batches,
    make_fake_gmat_install,
    manifest_lines,
)
from gmat_sweep.testing.suites import reference_design
from gmat_sweep_ray import RayPool
from gmat_sweep_ray.testing import RayHead, local_runtime_kwargs, processes_naming

SCRIPT = kit_script()


def _run_lines(out: Path) -> list[dict[str, object]]:
    return manifest_lines(out, "run")


def _running_task_pids(runtime_dir: str) -> list[int]:
    """This test's Ray worker processes executing a gmat-sweep run right now (title
    ``ray::_run``): among the processes of the runtime under ``runtime_dir`` only, never
    another Ray on this machine."""
    pids = []
    for pid in processes_naming(runtime_dir):
        with contextlib.suppress(psutil.Error):
            cmdline = psutil.Process(pid).cmdline()
            if cmdline and cmdline[0].startswith("ray::_run"):
                pids.append(pid)
    return pids


def test_a_ray_worker_killed_mid_batch_costs_only_time(
    ray_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs of 0.05 s: the dispatcher sends batches of several runs; commits at once.
    quick = make_fake_gmat_install(tmp_path / "GMAT-quick", run_cost_s=0.05)
    monkeypatch.setenv("GMAT_ROOT", str(quick))
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    grid = {"Sat.SMA": [6900.0 + 4 * i for i in range(128)]}
    out = tmp_path / "ray"
    killed: list[int] = []

    def kill_one_running_task() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            if len(_run_lines(out)) >= 30:
                pids = _running_task_pids(ray_env["RAY_TMPDIR"])
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_running_task, daemon=True)
    with RayPool(**local_runtime_kwargs()) as pool:
        killer.start()
        df = sweep(SCRIPT, grid=grid, backend=pool, out=out, progress=False)
    killer.join(timeout=1)
    assert killed, "no running Ray task was found to kill"
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


@pytest.mark.parametrize("route", ["private-runtime", "ray-client"])
def test_a_fresh_driver_process_repeats_the_monte_carlo_bit_for_bit(
    ray_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest, route: str
) -> None:
    out = tmp_path / "ray-mc"
    if route == "ray-client":
        head: RayHead = request.getfixturevalue("ray_head")
        pool = f"RayPool(address={head.client_address()!r})"
    else:
        pool = "RayPool(num_cpus=2, object_store_memory=256 * 2**20)"
    code = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from gmat_sweep import Sweep
from gmat_sweep.testing import kit_script
from gmat_sweep.testing.suites import reference_design
from gmat_sweep_ray import RayPool
with {pool} as pool:
    Sweep(kit_script(), reference_design("monte_carlo"), out={str(out)!r}, backend=pool,
          progress=False).run()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with LocalPool(2) as local:
        Sweep(
            SCRIPT, reference_design("monte_carlo"), out=tmp_path / "local", backend=local,
            progress=False,
        ).run()  # fmt: skip
    assert_sweeps_equal(out, tmp_path / "local")


def test_close_shuts_down_only_a_runtime_it_started(ray_env: dict[str, str]) -> None:
    import ray

    pool = RayPool(**local_runtime_kwargs())
    assert ray.is_initialized() and pool.options()["address"] == "local"
    pool.close()
    assert not ray.is_initialized()

    ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.2",
             **local_runtime_kwargs())  # fmt: skip
    try:
        pool = RayPool()
        assert pool.options()["address"] == "existing"
        pool.close()
        pool.close()
        assert ray.is_initialized()
        assert ray.get(ray.put(41)) + 1 == 42  # the runtime still works
    finally:
        ray.shutdown()


def test_num_cpus_with_a_cluster_address_is_refused(ray_env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="num_cpus sizes a private local runtime"):
        RayPool(address="auto", num_cpus=4)


def test_the_pools_defaults_keep_ray_on_loopback(
    ray_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """RayPool() must not undo the user's settings; its runtime talks to loopback only."""
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # "false" (Ray reads it as off, like the pool's default "0"): a value the pool would
    # never write, so overriding the user's setting shows.
    monkeypatch.setenv("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "false")
    before = {k: v for k, v in os.environ.items() if k.startswith("RAY_") or k == "HOME"}
    import ray

    with RayPool(**local_runtime_kwargs()):
        assert {k: os.environ.get(k) for k in before} == before  # nothing overridden
        nodes = ray.nodes()
        assert [n["NodeManagerAddress"] for n in nodes] == ["127.0.0.2"]
        ray.get([ray.remote(lambda: 1).remote() for _ in range(4)])  # exercise it
        time.sleep(1.0)  # give background probes (metadata, usage) their chance
        session_dir = ray_env["RAY_TMPDIR"]
        remote_ips, processes = [], 0
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if session_dir not in " ".join(proc.info["cmdline"] or []):
                continue
            processes += 1
            try:
                conns = proc.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            remote_ips += [c.raddr.ip for c in conns if c.raddr]
        assert processes >= 2, "found none of this runtime's processes"
        assert remote_ips, "found no connection at all: the check would prove nothing"
        # Ray's gRPC servers listen on every interface (not configurable in Ray 2.60);
        # what must hold is that every connection they make stays on loopback.
        loopback = ("127.", "::1", "::ffff:127.")
        assert all(ip.startswith(loopback) for ip in remote_ips), remote_ips
    assert not ray.is_initialized()


def test_backend_ray_by_name_runs_a_sweep(ray_env: dict[str, str], tmp_path: Path) -> None:
    df = sweep(
        SCRIPT, grid={"Sat.SMA": [7000.0, 7100.0]}, backend="ray",
        backend_options=local_runtime_kwargs(), out=tmp_path / "o", progress=False,
    )  # fmt: skip
    assert (df["__status"] == "ok").all()
    import ray

    assert not ray.is_initialized()  # the pool made by name is closed by the sweep


def _autoscaler_cpu_request() -> int:
    """CPUs the head's autoscaler is asked for right now (the request in the GCS)."""
    import json

    import ray
    from ray.autoscaler.v2.utils import is_autoscaler_v2
    from ray.experimental.internal_kv import _internal_kv_get

    # The heads these tests start run autoscaler v1, which keeps the request in the KV.
    assert not is_autoscaler_v2(fetch_from_server=True), "read v2's cluster constraints here"
    raw = _internal_kv_get(ray._private.ray_constants.AUTOSCALER_RESOURCE_REQUEST_CHANNEL)
    return sum(int(bundle.get("CPU", 0)) for bundle in json.loads(raw or b"[]"))


def test_autoscale_cpus_asks_the_head_for_the_cluster_and_withdraws_it(
    ray_head: RayHead, tmp_path: Path
) -> None:
    import ray

    grid = {"Sat.SMA": [6900.0 + 10 * i for i in range(24)]}
    asked: list[int] = []
    with RayPool(address=ray_head.address, autoscale_cpus=6) as pool:
        # Core queues for the 6 CPUs the cluster may grow to, not the head's 2.
        assert pool.capacity == 6 and pool.options()["autoscale_cpus"] == 6
        df = sweep(SCRIPT, grid=grid, backend=pool, out=tmp_path / "o", progress=False)
        asked.append(_autoscaler_cpu_request())
    assert (df["__status"] == "ok").all()
    assert asked == [6]
    ray.init(address=ray_head.address)
    try:
        assert _autoscaler_cpu_request() == 0  # withdrawn at close: idle nodes can go
    finally:
        ray.shutdown()


def test_autoscale_cpus_is_refused_for_a_private_runtime(ray_env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="a private local runtime has none"):
        RayPool(autoscale_cpus=8)
    with pytest.raises(ValueError, match="whole number >= 1"):
        RayPool(address="auto", autoscale_cpus=0)


def test_a_token_cluster_runs_a_sweep_and_refuses_a_driver_without_the_token(
    ray_env: dict[str, str], tmp_path: Path
) -> None:
    # As recipes/ray/cluster.yaml sets it up: RAY_AUTH_MODE=token on every process and the
    # token in a file named by RAY_AUTH_TOKEN_PATH. Drivers are separate processes, as a
    # user's are (Ray keeps the token it loaded for the life of a process).
    token = tmp_path / "auth_token"
    token.write_text(os.urandom(16).hex())
    token.chmod(0o600)
    secured = {**ray_env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    head = RayHead(secured, tmp_path)
    out = tmp_path / "secured"
    driver = (
        "from gmat_sweep import Sweep\n"
        "from gmat_sweep.testing import kit_script\n"
        "from gmat_sweep.testing.suites import reference_design\n"
        "from gmat_sweep_ray import RayPool\n"
        f"with RayPool(address={head.address!r}) as pool:\n"
        "    Sweep(kit_script(), reference_design('grid'), out=__import__('sys').argv[1],\n"
        "          backend=pool, progress=False).run()\n"
    )

    def drive(env: dict[str, str], where: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", driver, str(where)],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=240,
        )  # fmt: skip

    try:
        done = drive(secured, out)
        assert done.returncode == 0, done.stderr[-3000:]
        wrong = tmp_path / "wrong_token"
        wrong.write_text("0" * 32)
        for env in (
            {**secured, "RAY_AUTH_TOKEN_PATH": str(wrong)},
            {**secured, "RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing")},
            {**secured, "RAY_AUTH_MODE": "disabled"},
        ):
            refused = drive(env, tmp_path / "refused")
            assert refused.returncode != 0
            assert "authentication" in refused.stderr.lower(), refused.stderr[-2000:]
            assert not (tmp_path / "refused" / "data").exists()
    finally:
        head.stop()
    with LocalPool(2) as local:
        Sweep(SCRIPT, reference_design("grid"), out=tmp_path / "ref", backend=local,
              progress=False).run()  # fmt: skip
    assert_sweeps_equal(out, tmp_path / "ref")
