"""Entry point of gmat-sweep-slurm: registers ``backend="slurm"`` without importing Dask."""

from __future__ import annotations

from collections.abc import Callable

from gmat_sweep.registry import hookimpl


@hookimpl
def gmat_sweep_register_pools(register: Callable[..., None]) -> None:
    register(
        "gmat_sweep_slurm.pool:SlurmPool",
        name="slurm",
        description="Slurm: Dask workers in this allocation (srun) or as elastic Slurm jobs.",
    )
