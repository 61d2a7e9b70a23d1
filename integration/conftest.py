"""The engines the integration suite runs on, and every installed backend to try.

Backends are discovered through gmat-sweep's registry, so a third-party plugin installed
in this environment is included automatically (with its default options). The project's
own backends are tried in each of their deployment shapes on real engines started here,
on loopback: Dask (LocalCluster; CLI scheduler + workers by address), Ray (private
runtime; ``ray start --head`` joined with address="auto"), Slurm (worker jobs; a driver
sbatch'ed into an allocation, see test_equivalence.py), MPI (drivers under ``mpirun`` and in
a Slurm allocation, in processes of their own: see test_equivalence.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gmat_sweep.pools.base import Pool
from gmat_sweep.registry import available_backends, resolve_backend
from gmat_sweep.testing import kit_gmat_root


@dataclass(frozen=True)
class BackendShape:
    """One way to run a backend: its name, how it is deployed, and the engines it needs."""

    backend: str
    shape: str
    engines: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.backend}-{self.shape}"


def _shapes() -> list[BackendShape]:
    known = {
        "local": [BackendShape("local", "2-workers")],
        "debug": [BackendShape("debug", "in-process")],
        "dask": [BackendShape("dask", "localcluster"), BackendShape("dask", "address", ("dask",))],
        "ray": [BackendShape("ray", "local-runtime", ("ray_env",)),
                BackendShape("ray", "head-node", ("ray_head",))],
        "slurm": [BackendShape("slurm", "jobs", ("slurm",))],
        # A process that initialised MPI hands Open MPI's job variables to every child it
        # starts, so MPI pools never run in this one: test_equivalence.py starts drivers.
        "mpi": [],
    }  # fmt: skip
    shapes: list[BackendShape] = []
    for entry in available_backends():
        shapes += known.get(entry.name, [BackendShape(entry.name, "default")])
    return shapes


SHAPES = _shapes()


@pytest.fixture(scope="session")
def engines(request: pytest.FixtureRequest) -> Callable[[BackendShape], dict[str, Any]]:
    """Start (once per session) the engines a shape needs; return what they expose."""

    def get(shape: BackendShape) -> dict[str, Any]:
        return {name: request.getfixturevalue(name) for name in shape.engines}

    return get


def make_pool(shape: BackendShape, engine: dict[str, Any]) -> Pool:
    """A fresh pool of ``shape``; the caller closes it."""
    if shape.backend == "local":
        from gmat_sweep.pools.local import LocalPool

        return LocalPool(2)
    if shape.id == "dask-localcluster":
        return resolve_backend("dask", n_workers=2)
    if shape.id == "dask-address":
        return resolve_backend("dask", address=engine["dask"].address)
    if shape.id == "ray-local-runtime":
        from gmat_sweep_ray.testing import local_runtime_kwargs

        return resolve_backend("ray", **local_runtime_kwargs())
    if shape.id == "ray-head-node":
        return resolve_backend("ray", address="auto")
    if shape.id == "slurm-jobs":
        return resolve_backend("slurm", **slurm_jobs_options())
    return resolve_backend(shape.backend)


def slurm_jobs_options() -> dict[str, Any]:
    from gmat_sweep_slurm.testing import PARTITION

    return {
        "mode": "jobs", "n_workers": 2, "partition": PARTITION, "walltime": "00:30:00",
        "memory_per_worker": "1GiB", "interface": "lo",
        # Inside the test cluster's own directory, removed with it.
        "log_directory": str(Path(os.environ["SLURM_CONF"]).parent / "worker-logs"),
    }  # fmt: skip


# -- drivers in sessions of their own ----------------------------------------------------


def _identity(pid: int) -> tuple[int, str] | None:
    from gmat_sweep.processes import process_stat

    stat = process_stat(pid)
    return None if stat is None else (pid, stat[1])


def started_by(driver: int) -> set[tuple[int, str]]:
    """Every live process ``driver`` started, read from /proc: its descendants, and the GMAT
    hosts a fork server forked for them. A host the driver (or one of its descendants, such
    as a Dask worker) asked a shared fork server for is the server's child, not theirs, but
    it holds the other end of the requester's pipes, and it exits when their writer is gone:
    those are found by the pipes they share that this test process does not hold itself (its
    stdin, the driver's stderr)."""
    from gmat_sweep.processes import descendants

    found = descendants(driver)
    ours = _pipes_of(os.getpid())
    while True:
        holders = [driver, *(pid for pid, _ in found)]
        pipes = set().union(*(_pipes_of(pid) for pid in holders)) - ours
        joined = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid() and _pipes_of(int(entry)) & pipes:
                identity = _identity(int(entry))
                if identity is not None and identity not in found and identity[0] != driver:
                    joined |= {identity} | descendants(identity[0])
        if not joined:
            return found
        found |= joined


def _pipes_of(pid: int) -> set[str]:
    """The pipes ``pid`` holds an end of (``pipe:[inode]``; empty when it is gone)."""
    pipes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("pipe:"):
                    pipes.add(target)
    return pipes


def _in_group(pgid: int) -> set[tuple[int, str]]:
    """Live processes of process group ``pgid`` (read from /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            found.add((int(entry), fields[19]))
    return found


def end_driver_session(
    driver: subprocess.Popen[bytes], started: set[tuple[int, str]], timeout: float = 30.0
) -> None:
    """SIGKILL whatever is left of a driver started with ``start_new_session=True``: its
    process group, and ``started`` (its descendants, read while it ran, for those that left
    the group); return once every one of them is gone.

    Raises:
        AssertionError: some are still running after ``timeout`` seconds.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(driver.pid, signal.SIGKILL)
    if driver.poll() is None:
        driver.wait(timeout=timeout)
    doomed = started | _in_group(driver.pid)
    deadline = time.monotonic() + timeout
    while True:
        alive = {p for p in doomed if _identity(p[0]) == p} | _in_group(driver.pid)
        for pid, _ in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not alive:
            return
        assert time.monotonic() < deadline, f"still running {timeout:.0f} s after SIGKILL: {alive}"
        time.sleep(0.1)


# -- engines ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _kit_gmat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sweep here runs on the kit's GMAT (real GMAT when GMAT_ROOT was set)."""
    monkeypatch.setenv("GMAT_ROOT", str(kit_gmat_root()))


@pytest.fixture(scope="session")
def dask(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from gmat_sweep_dask.testing import DaskCliCluster

    with DaskCliCluster.started(tmp_path_factory.mktemp("dask-cli"), kit_gmat_root()) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def ray_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from gmat_sweep_ray.testing import applied_env, loopback_env

    settings = {**loopback_env(tmp_path_factory.mktemp("ray-home")),
                "GMAT_ROOT": str(kit_gmat_root())}  # fmt: skip
    with applied_env(settings):
        yield settings


@pytest.fixture(scope="session")
def ray_head(ray_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from gmat_sweep_ray.testing import RayHead

    head = RayHead(ray_env, tmp_path_factory.mktemp("ray-head"))
    try:
        yield head
    finally:
        head.stop()


@pytest.fixture(scope="session")
def mpi_env() -> dict[str, str]:
    """The environment of MPI drivers here: loopback Open MPI (installed when missing)."""
    from gmat_sweep_mpi.testing import ensure_open_mpi, loopback_env

    ensure_open_mpi()
    return loopback_env({**os.environ, "GMAT_ROOT": str(kit_gmat_root())})


@pytest.fixture(scope="session")
def slurm() -> Iterator[Path]:
    from gmat_sweep_slurm.testing import running_cluster

    with running_cluster(Path("/tmp") / f"gmat-sweep-slurm-int-{os.getpid()}") as conf:
        yield conf
