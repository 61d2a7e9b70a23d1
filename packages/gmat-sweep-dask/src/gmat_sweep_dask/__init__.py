"""gmat-sweep-dask: the ``dask`` backend of gmat-sweep.

    >>> from gmat_sweep import sweep
    >>> df = sweep("mission.script", grid={...}, backend="dask", out="out")
    >>> df = sweep(..., backend="dask", backend_options={"address": "tcp://sched:8786"})

Dask is imported only when a pool is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gmat_sweep_dask._version import __version__

if TYPE_CHECKING:
    from gmat_sweep_dask.pool import DaskPool

__all__ = ["DaskPool", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "DaskPool":
        from gmat_sweep_dask.pool import DaskPool

        return DaskPool
    raise AttributeError(f"module 'gmat_sweep_dask' has no attribute {name!r}")
