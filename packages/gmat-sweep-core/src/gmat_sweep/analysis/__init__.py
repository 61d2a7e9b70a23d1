"""From a sweep's runs to requirement statistics.

    >>> from gmat_sweep import analysis
    >>> last = analysis.final("sweep-out", "Sat.Earth.Altitude")
    >>> analysis.tolerance_bound(last["Sat.Earth.Altitude"], 0.99, 0.95, nan="omit")

Every function that takes a sweep takes its :class:`~gmat_sweep.results.Results`, its
directory, or its DataFrame, and reads a directory batch by batch, so it works on
sweeps too large for memory. Only the accepted attempt of each run that ended ok gives
values; runs that did not end ok are reported apart, never counted silently.

- :func:`bands`: quantiles of each channel across runs, at every epoch.
- :func:`per_run`, :func:`final`: one row per run (its last row, a channel's min, max,
  mean...), with the run's status and parameters; :func:`parameters`: the overrides.
- :func:`tolerance_bound`, :func:`runs_needed`: Wilks' distribution-free bounds.
- :func:`failure_probability`, :func:`binomial_interval`: how often a condition holds,
  with an exact (Clopper-Pearson) interval.
- :func:`convergence`: running mean, standard deviation and standard error over run_id.
- :func:`sensitivity`, :func:`interactions`: Sobol' and Morris indices of a
  :func:`~gmat_sweep.sobol` or :func:`~gmat_sweep.morris` sweep (SALib's estimators).

The package imports lazily: ``from gmat_sweep import analysis`` loads neither numpy,
pandas, pyarrow nor scipy until a function is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gmat_sweep.analysis.indices import interactions, sensitivity
    from gmat_sweep.analysis.probability import (
        Probability,
        binomial_interval,
        failure_probability,
    )
    from gmat_sweep.analysis.quantiles import bands, quantile_label
    from gmat_sweep.analysis.running import convergence
    from gmat_sweep.analysis.runs import PARAMETER_PREFIX, final, parameters, per_run
    from gmat_sweep.analysis.tolerance import ToleranceBound, runs_needed, tolerance_bound

_LAZY = {
    "bands": "gmat_sweep.analysis.quantiles",
    "quantile_label": "gmat_sweep.analysis.quantiles",
    "per_run": "gmat_sweep.analysis.runs",
    "final": "gmat_sweep.analysis.runs",
    "parameters": "gmat_sweep.analysis.runs",
    "PARAMETER_PREFIX": "gmat_sweep.analysis.runs",
    "tolerance_bound": "gmat_sweep.analysis.tolerance",
    "runs_needed": "gmat_sweep.analysis.tolerance",
    "ToleranceBound": "gmat_sweep.analysis.tolerance",
    "failure_probability": "gmat_sweep.analysis.probability",
    "binomial_interval": "gmat_sweep.analysis.probability",
    "Probability": "gmat_sweep.analysis.probability",
    "convergence": "gmat_sweep.analysis.running",
    "sensitivity": "gmat_sweep.analysis.indices",
    "interactions": "gmat_sweep.analysis.indices",
}

__all__ = [
    "PARAMETER_PREFIX",
    "Probability",
    "ToleranceBound",
    "bands",
    "binomial_interval",
    "convergence",
    "failure_probability",
    "final",
    "interactions",
    "parameters",
    "per_run",
    "quantile_label",
    "runs_needed",
    "sensitivity",
    "tolerance_bound",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gmat_sweep.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
