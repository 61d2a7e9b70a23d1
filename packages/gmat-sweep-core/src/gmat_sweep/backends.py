"""Pool classes by name, resolved through the backend registry.

``from gmat_sweep.backends import DaskPool`` works when gmat-sweep-dask is
installed and otherwise raises :class:`~gmat_sweep.errors.BackendNotInstalledError`
(an ImportError) with the ``pip install`` line. Any Pool class registered by any
plugin is importable from here by its class name.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DaskPool", "DebugPool", "LocalPool", "MPIPool", "Pool", "RayPool", "SlurmPool"]

# Class names of the project's own backends, for the install hint when missing.
_KNOWN_CLASSES = {"DaskPool": "dask", "RayPool": "ray", "SlurmPool": "slurm", "MPIPool": "mpi"}


def __getattr__(name: str) -> Any:
    from gmat_sweep.registry import get_registry

    if name == "Pool":
        from gmat_sweep.pools.base import Pool

        return Pool
    registry = get_registry()
    for entry in registry.entries:
        target = entry.target
        class_name = target.rpartition(":")[2] if isinstance(target, str) else target.__name__
        if class_name == name:
            return entry.load()
    if name in _KNOWN_CLASSES:
        registry.lookup(_KNOWN_CLASSES[name])  # raises the helpful error
    raise AttributeError(f"module 'gmat_sweep.backends' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
