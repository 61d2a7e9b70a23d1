"""gmat-sweep-ray: the ``ray`` backend of gmat-sweep.

    >>> from gmat_sweep import sweep
    >>> df = sweep("mission.script", grid={...}, backend="ray", out="out")
    >>> df = sweep(..., backend="ray", backend_options={"address": "auto"})

Ray is imported only when a pool is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gmat_sweep_ray._version import __version__

if TYPE_CHECKING:
    from gmat_sweep_ray.pool import RayPool

__all__ = ["RayPool", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "RayPool":
        from gmat_sweep_ray.pool import RayPool

        return RayPool
    raise AttributeError(f"module 'gmat_sweep_ray' has no attribute {name!r}")
