"""Real Open MPI on this machine, for tests.

:func:`ensure_open_mpi` installs Debian's ``openmpi-bin`` (``mpirun``, ``libmpi``) when
``mpirun`` is missing (root, ``apt-get``); :func:`loopback_env` is the environment that
runs it here: as root, over shared memory and loopback TCP only, oversubscribing two
cores. Known-good settings: ``../shared/ENGINES.md``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["PACKAGES", "MPISetupError", "ensure_open_mpi", "loopback_env", "mpirun_command"]

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
