"""gmat-sweep-mpi: the ``mpi`` backend of gmat-sweep.

    $ mpirun -n 9 python -m mpi4py.futures driver.py     # rank 0 drives, 8 ranks run GMAT

    >>> from gmat_sweep import sweep
    >>> df = sweep("mission.script", grid={...}, backend="mpi", out="out")

mpi4py (and so the MPI library) is loaded only when a pool is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gmat_sweep_mpi._version import __version__

if TYPE_CHECKING:
    from gmat_sweep_mpi.pool import MPIPool

__all__ = ["MPIPool", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "MPIPool":
        from gmat_sweep_mpi.pool import MPIPool

        return MPIPool
    raise AttributeError(f"module 'gmat_sweep_mpi' has no attribute {name!r}")
