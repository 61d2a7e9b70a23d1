"""Pictures of a sweep, drawn with matplotlib (the optional extra ``gmat-sweep-core[plot]``).

    >>> from gmat_sweep import plot
    >>> plot.bands("sweep-out", "Sat.Earth.Altitude").savefig("altitude.png")

Every function takes the sweep (its :class:`~gmat_sweep.results.Results` or its
directory; those that need no parameters also its DataFrame), draws numbers that
:mod:`gmat_sweep.analysis` computes, and returns a :class:`matplotlib.figure.Figure`:

- :func:`bands`: percentile bands of channels over time (:func:`~gmat_sweep.analysis.bands`).
- :func:`distribution`: a histogram or ECDF of one value per run, with a Wilks
  tolerance bound marked (:func:`~gmat_sweep.analysis.tolerance_bound`).
- :func:`pairs`: a corner plot of the parameters against a metric (hexagonal bins past
  a few thousand runs).
- :func:`heatmap`: a metric over a two-axis grid.
- :func:`convergence`: a Monte Carlo's running mean and its standard error
  (:func:`~gmat_sweep.analysis.convergence`).
- :func:`failures`: which parameter values failed (the manifest only).
- :func:`save`: write a figure as PNG or SVG, by the file's suffix.

Figures have their own Agg canvas and never go through ``pyplot``: no display is needed
and no global matplotlib state changes. ``import gmat_sweep.plot`` imports nothing
heavy; matplotlib is imported when a figure is drawn, and its absence raises
:class:`~gmat_sweep.errors.PlotUnavailableError` with the ``pip install`` line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gmat_sweep.plot._figure import save
    from gmat_sweep.plot.corner import pairs
    from gmat_sweep.plot.failmap import failures
    from gmat_sweep.plot.gridmap import heatmap
    from gmat_sweep.plot.running import convergence
    from gmat_sweep.plot.spread import distribution
    from gmat_sweep.plot.timeline import bands

_LAZY = {
    "bands": "gmat_sweep.plot.timeline",
    "distribution": "gmat_sweep.plot.spread",
    "pairs": "gmat_sweep.plot.corner",
    "heatmap": "gmat_sweep.plot.gridmap",
    "convergence": "gmat_sweep.plot.running",
    "failures": "gmat_sweep.plot.failmap",
    "save": "gmat_sweep.plot._figure",
}

__all__ = ["bands", "convergence", "distribution", "failures", "heatmap", "pairs", "save"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gmat_sweep.plot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
