"""Fault injection: the sweep ends, every run is accounted for, nothing is lost.

Worker deaths on each distributed backend (a SIGKILLed Dask worker, a SIGKILLed Ray task
worker, a scancel'ed Slurm worker job) are exercised by each plugin's own tests
(test_dask_pool.py, test_ray_pool.py, test_slurm_pool.py); this file covers the driver,
GMAT itself, and the disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gmat_sweep import Sweep, sweep
from gmat_sweep.designs import Grid
from gmat_sweep.errors import ManifestCorruptError, OutputDirError
from gmat_sweep.manifest import MANIFEST_NAME, Manifest
from gmat_sweep.pools.local import LocalPool
from gmat_sweep.testing import FakeGmatRule, kit_script, make_fake_gmat_install

from .conftest import end_driver_session, started_by

GRID = Grid({"Sat.SMA": [6900.0 + 20 * i for i in range(24)]})


# A GMAT the user pointed at before the tests started: the real engine.
_REAL_GMAT = os.environ.get("GMAT_ROOT")


@pytest.fixture
def slow_gmat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Real GMAT when configured; else a stand-in whose runs take 0.1 s, so that a driver
    can be interrupted mid-sweep."""
    root = (
        Path(_REAL_GMAT)
        if _REAL_GMAT
        else make_fake_gmat_install(tmp_path / "GMAT-slow", run_cost_s=0.1)
    )
    monkeypatch.setenv("GMAT_ROOT", str(root))
    return root


def assert_same_results(out: Path, reference: Path) -> None:
    """Bit-equal DataFrames, every run ok. (After a resume, attempt numbers legitimately
    differ from an uninterrupted sweep, so manifests are not compared line for line.)"""
    from pandas.testing import assert_frame_equal

    from gmat_sweep.results import load_results

    frame = load_results(out)
    assert set(frame["__status"]) == {"ok"}
    assert_frame_equal(frame, load_results(reference), check_exact=True)


@pytest.fixture
def reference(slow_gmat: Path, tmp_path: Path) -> Path:
    out = tmp_path / "reference"
    with LocalPool(2) as pool:
        Sweep(kit_script(), GRID, out=out, backend=pool, progress=False).run()
    return out


def _committed_ok(out: Path) -> set[int]:
    """The runs the manifest has committed as ok."""
    manifest = Manifest.load(out)
    return {r for r in range(manifest.n_runs) if manifest.status_of(r) == "ok"}


def _assert_not_rerun(out: Path, before: set[int]) -> None:
    """Runs committed ok before the fault still have their one attempt: none ran again."""
    manifest = Manifest.load(out)
    rerun = sorted(r for r in before if manifest.attempts_of(r) != 1)
    assert not rerun, f"runs committed before the fault ran again: {rerun}"


# Commit every wake-up's runs at once, so that a fault can land between groups.
_COMMIT_AT_ONCE = {"GMAT_SWEEP_COMMIT_WINDOW_S": "0"}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_driver_killed_at_a_random_point_loses_nothing(
    sig: signal.Signals, seed: int, slow_gmat: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    grid = json.dumps(dict(GRID.values))
    code = textwrap.dedent(f"""
        from gmat_sweep import Sweep
        from gmat_sweep.designs import Grid
        from gmat_sweep.pools.local import LocalPool
        from gmat_sweep.testing import kit_script
        with LocalPool(2) as pool:
            Sweep(kit_script(), Grid({grid}), out={str(out)!r}, backend=pool,
                  progress=False).run()
    """)
    # stderr to a file, not a pipe: the driver's worker processes inherit it and may outlive
    # a SIGKILLed driver for a moment, which would keep a pipe open.
    log = tmp_path / "driver.log"
    with open(log, "w") as stderr:
        driver = subprocess.Popen(
            [sys.executable, "-c", code],
            stderr=stderr,
            start_new_session=True,
            env={**os.environ, **_COMMIT_AT_ONCE},
        )
    started: set[tuple[int, str]] = set()
    try:
        # Somewhere between the first finished run and the end of the sweep.
        manifest = out / MANIFEST_NAME
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            manifest.exists() and '"kind":"run"' in manifest.read_text()
        ):
            time.sleep(0.01)
        # A random point after that (a delay, not an ordering: the checks below find out
        # whether the signal landed mid-sweep).
        time.sleep(random.Random(seed).uniform(0.0, 0.3))
        started = started_by(driver.pid)  # its GMAT hosts...
        landed_mid_sweep = driver.poll() is None
        driver.send_signal(sig)
        driver.wait(timeout=120)
    finally:
        # The driver signalled, or a failed step above: nothing it started may still write
        # into ``out`` while the resume runs, nor outlive the test.
        end_driver_session(driver, started)
    assert landed_mid_sweep, "the sweep finished before the signal; the test proved nothing"
    if sig == signal.SIGINT and driver.returncode != 0:
        stderr = log.read_text()
        assert "KeyboardInterrupt" in stderr or driver.returncode == -signal.SIGINT, stderr
    before = _committed_ok(out)  # the manifest parses, whatever the signal cut short
    assert 0 < len(before) < 24, f"{len(before)} runs committed: the signal was not mid-sweep"
    with LocalPool(2) as pool:
        resumed = Sweep.from_manifest(out, backend=pool, progress=False).resume()
    assert resumed.index.is_unique  # no run appears twice
    _assert_not_rerun(out, before)
    assert_same_results(out, reference)


def test_crashing_hanging_and_failing_runs_fail_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    smas = GRID.values["Sat.SMA"]
    rules = [
        FakeGmatRule(when={"Sat.SMA": smas[3]}, action="crash"),
        FakeGmatRule(when={"Sat.SMA": smas[7]}, action="hang"),
        FakeGmatRule(when={"Sat.SMA": smas[11]}, action="fail"),
    ]
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "G", rules=rules)))
    with LocalPool(2) as pool, pytest.warns(UserWarning, match="21/24 ok"):
        df = sweep(kit_script(), grid=GRID.values, backend=pool, out=tmp_path / "o",
                   timeout=5, progress=False)  # fmt: skip
    status = df.groupby(level="run_id")["__status"].first()
    assert status.to_dict() == {
        **{i: "ok" for i in range(24) if i not in (3, 7, 11)},
        3: "crashed", 7: "timeout", 11: "failed",
    }  # fmt: skip
    latest = Manifest.load(tmp_path / "o").latest_entries().values()
    errors = {e["run_id"]: e["error"] for e in latest if e["error"]}
    assert "SIGSEGV" in errors[3]["message"]
    assert "timeout of 5 s" in errors[7]["message"]
    assert "injected failure" in errors[11]["log_tail"]


@contextlib.contextmanager
def _tmpfs(path: Path, size: str, *options: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]),
                    "tmpfs", str(path)], check=True)  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_stops_clearly_and_resume_finishes(
    slow_gmat: Path, reference: Path, tmp_path: Path
) -> None:
    """The disk under ``out`` fills mid-sweep (a part file or a manifest line cannot be
    written): the driver stops with an error that says so and what to do; after space is
    freed, resume finishes bit-equal without rerunning what was committed."""
    with _tmpfs(tmp_path / "small", "48k") as disk:
        out = disk / "out"
        os.environ.update(_COMMIT_AT_ONCE)
        try:
            with (
                LocalPool(2) as pool,
                pytest.raises(OutputDirError, match=r"No space left on device.*resume"),
            ):
                Sweep(kit_script(), GRID, out=out, backend=pool, progress=False).run()
        finally:
            del os.environ["GMAT_SWEEP_COMMIT_WINDOW_S"]
        before = _committed_ok(out)
        assert 0 < len(before) < 24, "the disk did not fill up mid-sweep"
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        with LocalPool(2) as pool:
            resumed = Sweep.from_manifest(out, backend=pool, progress=False).resume()
        assert resumed.index.is_unique
        _assert_not_rerun(out, before)
        assert_same_results(out, reference)


def test_an_unwritable_out_is_refused_before_any_run(slow_gmat: Path, tmp_path: Path) -> None:
    with (
        _tmpfs(tmp_path / "ro", "1m", "ro") as disk,
        pytest.raises(OutputDirError, match="cannot write"),
    ):
        sweep(kit_script(), grid={"Sat.SMA": [7000.0]}, out=disk / "out", progress=False)


def test_a_corrupt_line_in_the_middle_is_named_and_nothing_is_touched(
    slow_gmat: Path, reference: Path
) -> None:
    manifest = reference / MANIFEST_NAME
    lines = manifest.read_text().splitlines(keepends=True)
    lines[5] = lines[5][: len(lines[5]) // 2] + "\n"
    manifest.write_text("".join(lines))
    snapshot = manifest.read_bytes()
    with pytest.raises(ManifestCorruptError, match="line 6") as info:
        Sweep.from_manifest(reference).resume()
    assert "manifest.jsonl" in str(info.value)
    assert manifest.read_bytes() == snapshot  # the evidence is left as it was
    assert json.loads(lines[0])["kind"] == "header"


_PRIVATE_POOLS = {
    "local": "backend='local', backend_options={'workers': 2}",
    "dask-localcluster": "backend='dask', backend_options={'n_workers': 2}",
    "ray-private-runtime": (
        "backend='ray', backend_options={'num_cpus': 2, 'object_store_memory': 256 * 2**20}"
    ),
    "mpi-spawned": "backend='mpi', backend_options={'workers': 2}",
}


@pytest.mark.parametrize("shape", sorted(_PRIVATE_POOLS))
def test_nothing_a_sigkilled_driver_started_outlives_it(
    slow_gmat: Path, tmp_path: Path, request: pytest.FixtureRequest, shape: str
) -> None:
    # Every process the driver started on this machine (GMAT hosts, the LocalCluster's
    # workers, the private Ray runtime with its agents, spawned MPI workers) exits within a
    # few seconds of a SIGKILL of the driver, which runs no cleanup of its own, and what
    # they had in the temporary directory (attempts' scratch, Dask's working files, Open
    # MPI's session) goes with them.
    env = dict(os.environ)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env["TMPDIR"] = str(temporary)
    env.pop("GMAT_SWEEP_SCRATCH", None)  # attempts in the temporary directory, the default
    if shape.startswith("ray"):
        env.update(request.getfixturevalue("ray_env"))
    if shape.startswith("mpi"):
        mpi_env = request.getfixturevalue("mpi_env")
        env.update({k: v for k, v in mpi_env.items() if k.startswith("OMPI_")})
    out = tmp_path / "killed"
    code = (
        "from gmat_sweep import Sweep\n"
        "from gmat_sweep.designs import Grid\n"
        "from gmat_sweep.testing import kit_script\n"
        "grid = Grid({'Sat.SMA': [6900.0 + i for i in range(2000)]})\n"
        f"Sweep(kit_script(), grid, out={str(out)!r}, {_PRIVATE_POOLS[shape]},\n"
        "      progress=False).run()\n"
    )
    # A fork server this process started and holds, as a notebook's lingers: the driver's
    # GMAT hosts are then that server's children, not the driver's descendants.
    request.addfinalizer(_hold_a_fork_server())
    driver = subprocess.Popen(
        [sys.executable, "-c", code], env={**env, **_COMMIT_AT_ONCE}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    started: set[tuple[int, str]] = set()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not _committed_runs(out):
            assert driver.poll() is None, driver.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            time.sleep(0.2)
        assert _committed_runs(out), "the driver committed no run in 180 s"
        started = started_by(driver.pid)
        assert len(started) >= 2, started  # the watchdog and what the pool started
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 10
        alive = started
        while alive and time.monotonic() < deadline:
            time.sleep(0.25)
            alive = {p for p in started if _same_process_alive(p)}
        assert not alive, f"still running 10 s after the driver's SIGKILL: {_names(alive)}"
        deadline = time.monotonic() + 10
        while os.listdir(temporary) and time.monotonic() < deadline:
            time.sleep(0.25)
        left = sorted(str(p.relative_to(temporary)) for p in temporary.rglob("*"))
        assert not left, f"left in TMPDIR 10 s after the processes were gone: {left[:20]}"
    finally:
        end_driver_session(driver, started)


def _hold_a_fork_server() -> Callable[[], None]:
    """Connect to this process's host fork server (starting it); return what lets it go."""
    from gmat_sweep import forkserver

    connection = forkserver._connect(forkserver.server_address())
    assert connection is not None, "no host fork server started"
    return connection.close


def _committed_runs(out: Path) -> int:
    try:
        return (out / MANIFEST_NAME).read_text().count('"kind":"commit"')
    except FileNotFoundError:
        return 0


def _same_process_alive(process: tuple[int, str]) -> bool:
    from gmat_sweep.processes import process_stat as _stat

    stat = _stat(process[0])
    return stat is not None and stat[1] == process[1]


def _names(processes: set[tuple[int, str]]) -> list[str]:
    names = []
    for pid, _ in sorted(processes):
        with contextlib.suppress(OSError):
            names.append(f"{pid} {Path(f'/proc/{pid}/cmdline').read_bytes()[:120]!r}")
    return names
