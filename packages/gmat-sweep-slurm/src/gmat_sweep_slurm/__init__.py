"""gmat-sweep-slurm: the ``slurm`` backend of gmat-sweep.

    >>> from gmat_sweep import sweep
    >>> df = sweep("mission.script", grid={...}, backend="slurm", out="/scratch/out")

Inside an allocation (``sbatch driver.sh``) it starts Dask workers on the allocation
with ``srun``; outside one it submits elastic worker jobs. Dask is imported only when a
pool is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gmat_sweep_slurm._version import __version__

if TYPE_CHECKING:
    from gmat_sweep_slurm.pool import SlurmNotFoundError, SlurmPool

__all__ = ["SlurmNotFoundError", "SlurmPool", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("SlurmPool", "SlurmNotFoundError"):
        from gmat_sweep_slurm import pool

        return getattr(pool, name)
    raise AttributeError(f"module 'gmat_sweep_slurm' has no attribute {name!r}")
