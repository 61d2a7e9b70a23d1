"""Entry point of gmat-sweep-dask: registers ``backend="dask"`` without importing Dask."""

from __future__ import annotations

from collections.abc import Callable

from gmat_sweep.registry import hookimpl


@hookimpl
def gmat_sweep_register_pools(register: Callable[..., None]) -> None:
    register(
        "gmat_sweep_dask.pool:DaskPool",
        name="dask",
        description="Dask distributed: a LocalCluster here, or any cluster by address or Client.",
    )
