"""Entry point of gmat-sweep-ray: registers ``backend="ray"`` without importing Ray."""

from __future__ import annotations

from collections.abc import Callable

from gmat_sweep.registry import hookimpl


@hookimpl
def gmat_sweep_register_pools(register: Callable[..., None]) -> None:
    register(
        "gmat_sweep_ray.pool:RayPool",
        name="ray",
        description="Ray tasks: a private local runtime, or a Ray cluster (auto, ray://).",
    )
