"""MPIPool on real Open MPI: launched by mpirun, spawned, refused when launched wrong.

Every driver runs in its own process, as users run it (``mpirun -n 3 python -m
mpi4py.futures driver.py`` or ``python driver.py``); the answer is compared bit for bit
with the local pool's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gmat_sweep import Sweep
from gmat_sweep.designs import Grid
from gmat_sweep.pools.local import LocalPool
from gmat_sweep.testing import (
    Watched,
    assert_sweeps_equal,
    kit_script,
    manifest_lines,
    run_watched,
    wait_until,
)
from gmat_sweep_mpi.testing import mpirun_command, run_mpi_job

GRID = {"Sat.SMA": [6900.0 + 25.0 * i for i in range(12)], "Sat.ECC": [0.001, 0.01]}

DRIVER = textwrap.dedent(
    """
    import json, sys
    from gmat_sweep import Sweep
    from gmat_sweep.designs import Grid
    from gmat_sweep.testing import kit_script

    grid, out, options = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    Sweep(kit_script(), Grid(grid), out=out, backend="mpi", backend_options=options,
          progress=False).run()
    """
)


def _driver(tmp_path: Path) -> Path:
    path = tmp_path / "driver.py"  # deliberately without a __main__ guard
    path.write_text(DRIVER)
    return path


def _args(out: Path, options: dict[str, object] | None = None) -> list[str]:
    return [json.dumps(GRID), str(out), json.dumps(options or {})]


def _run(cmd: list[str], env: dict[str, str], out: Path, *, again: bool = True) -> Watched:
    """The job's result, which must have ended. Run again, from no ``out``, when Open MPI
    hangs by itself, unless ``again`` is False: where not hanging is what is tested."""
    if again:
        done = run_mpi_job(cmd, env, before_again=lambda: shutil.rmtree(out, ignore_errors=True))
    else:
        done = run_watched(cmd, timeout=120, env=env)
    assert done.returncode is not None, done.report()
    return done


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, mpi_env: dict[str, str]) -> Path:
    out = tmp_path_factory.mktemp("mpi-ref") / "local"
    with pytest.MonkeyPatch.context() as patch, LocalPool(2) as pool:
        patch.setenv("GMAT_ROOT", mpi_env["GMAT_ROOT"])  # what every driver here runs on
        Sweep(kit_script(), Grid(GRID), out=out, backend=pool, progress=False).run()
    return out


def _session_backend(out: Path) -> dict[str, object]:
    sessions = manifest_lines(out, "session")
    assert len(sessions) == 1, sessions
    backend: dict[str, object] = sessions[0]["backend"]
    return backend


def test_launched_by_mpirun_rank_0_drives_and_the_other_ranks_run_bit_equal(
    tmp_path: Path, out: Path, mpi_env: dict[str, str], reference: Path
) -> None:
    done = _run(mpirun_command(3, _driver(tmp_path), *_args(out)), mpi_env, out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_sweeps_equal(out, reference)
    backend = _session_backend(out)
    assert backend["name"] == "mpi"
    options = backend["options"]
    assert isinstance(options, dict)
    assert (options["mode"], options["workers"]) == ("launched", 2)  # 3 ranks minus rank 0
    assert "Open MPI" in str(options["mpi"])


def test_spawned_from_a_plain_python_driver_is_bit_equal_and_leaves_no_worker(
    tmp_path: Path, out: Path, mpi_env: dict[str, str], reference: Path
) -> None:
    marker = str(tmp_path)  # inherited by the driver, its spawned workers and their GMAT
    env = {**mpi_env, "GMAT_SWEEP_TEST_MARKER": marker}
    done = _run([sys.executable, str(_driver(tmp_path)), *_args(out, {"workers": 2})], env, out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_sweeps_equal(out, reference)
    options = _session_backend(out)["options"]
    assert isinstance(options, dict)
    assert (options["mode"], options["workers"]) == ("spawned", 2)
    # The spawned job's processes end after the driver's disconnect, not before its exit.
    left = lambda: _processes_with_env("GMAT_SWEEP_TEST_MARKER", marker)  # noqa: E731
    assert wait_until(lambda: not left(), 10), [_describe(pid) for pid in left()]


def test_every_rank_running_the_driver_is_refused_before_anything_is_written(
    tmp_path: Path, out: Path, mpi_env: dict[str, str]
) -> None:
    cmd = mpirun_command(2, _driver(tmp_path), *_args(out))
    cmd.remove("-m")
    cmd.remove("mpi4py.futures")  # mpirun -n 2 python driver.py
    done = _run(cmd, mpi_env, out)
    assert done.returncode != 0
    assert "python -m mpi4py.futures driver.py" in done.stderr
    assert "rank 0 then runs the driver" in done.stderr
    assert not out.exists()


def test_a_job_of_one_rank_is_refused_it_has_no_worker(
    tmp_path: Path, out: Path, mpi_env: dict[str, str]
) -> None:
    done = _run(mpirun_command(1, _driver(tmp_path), *_args(out)), mpi_env, out)
    assert done.returncode != 0
    assert "single rank" in done.stderr and "K >= 2" in done.stderr
    assert not out.exists()


def test_workers_under_a_launcher_is_refused_the_launcher_sizes_the_job(
    tmp_path: Path, out: Path, mpi_env: dict[str, str]
) -> None:
    done = _run(mpirun_command(3, _driver(tmp_path), *_args(out, {"workers": 4})), mpi_env, out)
    assert done.returncode != 0
    assert "workers=4" in done.stderr and "its 2 worker rank(s) are the pool" in done.stderr
    assert not out.exists()


def test_a_spawn_that_cannot_connect_fails_clearly_instead_of_hanging(
    tmp_path: Path, out: Path, mpi_env: dict[str, str]
) -> None:
    # Shared memory alone cannot connect a parent to the job it spawns.
    env = {**mpi_env, "OMPI_MCA_btl": "self,vader"}
    options = {"workers": 2, "start_timeout": 10}
    done = _run(
        [sys.executable, str(_driver(tmp_path)), *_args(out, options)], env, out, again=False
    )
    assert done.returncode != 0
    assert "did not answer within 10 s" in done.stderr or "failed to start" in done.stderr
    assert not out.exists()


def test_a_spawn_that_never_answers_fails_and_the_driver_still_exits(
    tmp_path: Path, out: Path, mpi_env: dict[str, str]
) -> None:
    # Spawned "workers" that never start MPI: MPI_Comm_spawn then never returns, as when
    # Open MPI's spawn hangs by itself. The error must come, and the driver must exit.
    done = _spawn_with_python_exe(tmp_path, out, mpi_env, "exec sleep 600", workers=1, wait=5)
    assert done.returncode != 0
    assert "did not answer within 5 s" in done.stderr, done.stderr[-3000:]
    assert not out.exists()
    assert wait_until(lambda: not _processes_with_env("GMAT_SWEEP_TEST_MARKER", str(tmp_path)), 30)


def test_a_spawn_that_hangs_once_is_spawned_again_and_the_sweep_runs(
    tmp_path: Path, out: Path, mpi_env: dict[str, str], reference: Path
) -> None:
    # The first spawned "worker" never starts MPI (a spawn that hangs, as Open MPI's does
    # now and then); the second spawn is a real worker.
    body = (
        f'if mkdir "{tmp_path / "hung"}" 2>/dev/null; then exec sleep 600; fi\n'
        f'exec "{sys.executable}" "$@"'
    )
    done = _spawn_with_python_exe(tmp_path, out, mpi_env, body, workers=2, wait=20)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "did not answer within 10 s; spawning them again" in done.stderr
    assert (tmp_path / "hung").is_dir()  # the first spawn did hang
    assert_sweeps_equal(out, reference)
    assert wait_until(lambda: not _processes_with_env("GMAT_SWEEP_TEST_MARKER", str(tmp_path)), 30)


def _spawn_with_python_exe(
    tmp_path: Path, out: Path, mpi_env: dict[str, str], body: str, workers: int, wait: float
) -> Watched:
    """The spawned-mode driver, its workers started by a shell script of ``body`` instead
    of Python (``python_exe``); every process of it marked with ``tmp_path``."""
    exe = tmp_path / "python-exe"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    env = {**mpi_env, "GMAT_SWEEP_TEST_MARKER": str(tmp_path)}
    options = {"workers": workers, "start_timeout": wait, "python_exe": str(exe)}
    # Not run again after a hang: here a hang would be MPIPool's own.
    command = [sys.executable, str(_driver(tmp_path)), *_args(out, options)]
    return _run(command, env, out, again=False)


def test_the_backend_is_found_by_name_and_class_without_starting_mpi() -> None:
    code = (
        "import sys\n"
        "from gmat_sweep.backends import MPIPool\n"
        "from gmat_sweep.registry import get_registry\n"
        "import gmat_sweep_mpi\n"
        "assert MPIPool is gmat_sweep_mpi.MPIPool\n"
        "assert get_registry().lookup('mpi').load() is MPIPool\n"
        "print('mpi4py.MPI' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # looking the backend up loads no MPI library


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_whole_number(bad: object) -> None:
    from gmat_sweep_mpi import MPIPool

    with pytest.raises(ValueError, match="workers must be a whole number >= 1"):
        MPIPool(workers=bad)  # type: ignore[arg-type]


def _describe(pid: int) -> str:
    """``pid`` and its command line, for a failure message."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        command = "(gone)"
    return f"{pid}: {command}"


def _processes_with_env(key: str, value: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"{key}={value}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_a_job_that_hangs_once_is_run_again_with_the_hang_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gmat_sweep.testing.watched

    monkeypatch.setattr(gmat_sweep.testing.watched, "_ABORT_GRACE_S", 1.0)
    marker, cleaned = tmp_path / "hung-once", []
    code = (
        "import os, sys, time\n"
        f"if not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'w').close(); time.sleep(600)\n"
        "print('second try')\n"
    )
    with pytest.warns(UserWarning, match="an MPI job hung; running it again") as caught:
        done = run_mpi_job(
            [sys.executable, "-c", code], {}, timeout=3, before_again=lambda: cleaned.append(1)
        )
    assert (done.returncode, done.stdout, cleaned) == (0, "second try\n", [1])
    assert "time.sleep(600)" in str(caught[0].message)  # the hang's stack, in the warning


def test_ctypes_is_loaded_before_mpi4py_looks_for_its_library(mpi_env: dict[str, str]) -> None:
    # mpi4py's import hook imports ctypes while CPython holds its global import lock; a
    # driver thread importing ctypes at that moment (core's background pandas import)
    # deadlocked the two (CI, 2026-12-04). MPIPool loads ctypes first so the hook finds
    # it loaded; a spy ahead of the hook sees whether it is.
    code = (
        "import sys\n"
        "seen = []\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'mpi4py.MPI':\n"
        "            seen.append('ctypes' in sys.modules)\n"
        "sys.meta_path.insert(0, Spy())\n"
        "from gmat_sweep_mpi.pool import _load_mpi\n"
        "_load_mpi()\n"
        "print(seen)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=mpi_env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[True]"
