"""gmat-sweep: run a GMAT mission thousands of times and get one DataFrame back.

    >>> from gmat_sweep import sweep
    >>> df = sweep("mission.script", grid={"Sat.SMA": [7000, 7100]}, out="sweep-out")

The package imports lazily: ``import gmat_sweep`` loads neither pandas, pyarrow
nor any backend until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gmat_sweep._version import __version__

if TYPE_CHECKING:
    from gmat_sweep import analysis, plot
    from gmat_sweep.api import latin_hypercube, monte_carlo, morris, sobol, sweep
    from gmat_sweep.designs import Grid, LatinHypercube, MonteCarlo, Samples
    from gmat_sweep.errors import GmatSweepError
    from gmat_sweep.orchestrator import Sweep
    from gmat_sweep.pools.base import Pool
    from gmat_sweep.pools.local import DebugPool, LocalJoblibPool, LocalPool
    from gmat_sweep.registry import available_backends, resolve_backend
    from gmat_sweep.results import Results, load_results
    from gmat_sweep.sensitivity_designs import Morris, Sobol
    from gmat_sweep.spec import RunOutcome, RunSpec, Status

_LAZY = {
    "sweep": "gmat_sweep.api",
    "monte_carlo": "gmat_sweep.api",
    "latin_hypercube": "gmat_sweep.api",
    "sobol": "gmat_sweep.api",
    "morris": "gmat_sweep.api",
    "Sweep": "gmat_sweep.orchestrator",
    "Grid": "gmat_sweep.designs",
    "Samples": "gmat_sweep.designs",
    "MonteCarlo": "gmat_sweep.designs",
    "LatinHypercube": "gmat_sweep.designs",
    "Sobol": "gmat_sweep.sensitivity_designs",
    "Morris": "gmat_sweep.sensitivity_designs",
    "Pool": "gmat_sweep.pools.base",
    "LocalPool": "gmat_sweep.pools.local",
    "LocalJoblibPool": "gmat_sweep.pools.local",
    "DebugPool": "gmat_sweep.pools.local",
    "RunSpec": "gmat_sweep.spec",
    "RunOutcome": "gmat_sweep.spec",
    "Status": "gmat_sweep.spec",
    "Results": "gmat_sweep.results",
    "load_results": "gmat_sweep.results",
    "resolve_backend": "gmat_sweep.registry",
    "available_backends": "gmat_sweep.registry",
    "GmatSweepError": "gmat_sweep.errors",
}

#: Subpackages imported on first use (``gmat_sweep.analysis``, ``gmat_sweep.plot``).
_SUBPACKAGES = ("analysis", "plot")

__all__ = ["__version__", *sorted([*_LAZY, *_SUBPACKAGES])]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"gmat_sweep.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gmat_sweep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
