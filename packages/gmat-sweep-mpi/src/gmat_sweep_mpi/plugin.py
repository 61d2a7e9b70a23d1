"""Entry point of gmat-sweep-mpi: registers ``backend="mpi"`` without importing mpi4py."""

from __future__ import annotations

from collections.abc import Callable

from gmat_sweep.registry import hookimpl


@hookimpl
def gmat_sweep_register_pools(register: Callable[..., None]) -> None:
    register(
        "gmat_sweep_mpi.pool:MPIPool",
        name="mpi",
        description="MPI ranks (mpi4py.futures): mpirun/srun -n K python -m mpi4py.futures, "
        "or spawned workers.",
    )
