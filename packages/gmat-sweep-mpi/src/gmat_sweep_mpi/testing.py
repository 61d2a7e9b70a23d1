"""Real Open MPI on this machine, for tests.

:func:`ensure_open_mpi` installs Debian's ``openmpi-bin`` (``mpirun``, ``libmpi``) when
``mpirun`` is missing (root, ``apt-get``); :func:`loopback_env` is the environment that
runs it here: as root, over shared memory and loopback TCP only, oversubscribing two
cores. Known-good settings: ``../shared/ENGINES.md``. :func:`run_mpi_job` runs a job
and runs it once more when Open MPI's launcher hangs by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gmat_sweep.testing import Watched

__all__ = [
    "PACKAGES",
    "MPISetupError",
    "ensure_open_mpi",
    "loopback_env",
    "mpirun_command",
    "run_mpi_job",
]

PACKAGES = ["openmpi-bin", "libopenmpi-dev"]

#: Open MPI as root, nothing but shared memory (vader) and loopback TCP. TCP is needed
#: for spawned workers: vader connects only the processes of one MPI job.
_LOOPBACK = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_btl": "self,vader,tcp",
    "OMPI_MCA_btl_tcp_if_include": "lo",
    "OMPI_MCA_oob_tcp_if_include": "lo",
    # mpirun -n 3 on two cores.
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
}


class MPISetupError(RuntimeError):
    """Open MPI could not be installed (the message says why)."""


def ensure_open_mpi() -> str:
    """Path of ``mpirun``, installing Debian's Open MPI first when it is missing.

    Raises:
        MPISetupError: not installed and this is not root, or ``apt-get`` failed.
    """
    found = shutil.which("mpirun")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise MPISetupError(
            f"Open MPI is not installed and this is not root with apt-get; install "
            f"{' '.join(PACKAGES)} (Debian) first"
        )
    print("==> installing Open MPI (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise MPISetupError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    found = shutil.which("mpirun")
    if not found:
        raise MPISetupError(f"apt-get installed {' '.join(PACKAGES)} but mpirun is not on PATH")
    return found


def loopback_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the loopback Open MPI settings."""
    return {**(os.environ if base is None else base), **_LOOPBACK}


def mpirun_command(ranks: int, script: str | Path, *args: str) -> list[str]:
    """``mpirun -n RANKS python -m mpi4py.futures SCRIPT ARGS...`` with this Python.

    ``script`` may also be ``-m`` followed by a module in ``args`` (e.g. pytest).
    """
    python: Sequence[str] = [sys.executable, "-m", "mpi4py.futures"]
    return [ensure_open_mpi(), "-n", str(ranks), *python, str(script), *args]


def run_mpi_job(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float = 120.0,
    before_again: Callable[[], object] | None = None,
) -> Watched:
    """Run an MPI job (``mpirun ...``, or a driver that spawns) to its end; once more when
    the first try hangs.

    Open MPI 4.1's launcher now and then hangs by itself on this machine: after a driver's
    error (mpi4py's ``MPI_ABORT``) an ``mpirun`` whose ranks had all exited did not reap
    them and never returned (2 in 260 refused launches, 2026-12-04; a long-known kind of
    race, open-mpi/ompi-release#101), and a spawn now and then never returns
    (open-mpi/ompi#9713). A first hang is reported as a warning with the job's processes
    and stacks (:func:`run_watched`), then ``before_again`` runs (e.g. to remove a
    half-written output folder) and the job runs again. A second hang is returned as it
    is (``returncode`` None) for the test to fail on; any other ending, failures
    included, is returned at once.
    """
    from gmat_sweep.testing import run_watched

    done = run_watched(argv, timeout=timeout, env=env)
    if done.returncode is not None:
        return done
    warnings.warn(f"an MPI job hung; running it again. The hang:\n{done.report()}", stacklevel=2)
    if before_again is not None:
        before_again()
    return run_watched(argv, timeout=timeout, env=env)
