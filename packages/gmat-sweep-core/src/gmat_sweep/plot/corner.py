"""Parameters against a metric: a corner plot, :func:`pairs`.

One row per run from :func:`gmat_sweep.analysis.final` (or ``per_run(how=...)``), with
the run's parameters as the manifest records them. The panels below the diagonal put
each pair of variables (the parameters, then the metric) against each other; the
diagonal holds each variable's histogram. A panel of two parameters colours its runs by
the metric. Past ``hexbin_above`` runs, points become hexagonal bins: counts of runs
against the metric, the metric's mean between two parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gmat_sweep.analysis.runs import PARAMETER_PREFIX, Reduction, per_run
from gmat_sweep.analysis.source import RunsLike
from gmat_sweep.errors import AnalysisError
from gmat_sweep.plot._figure import new_figure, results_of, swept_parameters
from gmat_sweep.results import STATUS_COLUMN

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["HEXBIN_ABOVE", "numeric_parameters", "pairs"]

#: Runs past which the panels bin runs into hexagons instead of drawing each.
HEXBIN_ABOVE = 2000


def pairs(
    runs: RunsLike,
    metric: str,
    parameters: Sequence[str] | None = None,
    *,
    how: Reduction = "last",
    hexbin_above: int = HEXBIN_ABOVE,
    report: str | None = None,
    kind: str | None = None,
) -> Figure:
    """A corner plot of the parameters and a metric, over the ok runs.

    Args:
        runs: The sweep: its Results or its directory (the parameters come from its
            manifest, so not a DataFrame).
        metric: The channel, reduced per run by ``how`` (default: its last row).
        parameters: The swept fields to draw (default: every numeric one, in the
            design's order).
        hexbin_above: With more ok runs than this, panels are hexagonal bins.
        report, kind: Which output of the sweep (as for ``load_results``).

    Returns:
        The figure: for ``k`` variables (the parameters, then the metric), the
        ``k (k + 1) / 2`` axes of the lower triangle, in rows, and a colour bar for the
        metric. Off the diagonal, a scatter (a ``PathCollection`` of one point per ok
        run) or a hexbin (a ``PolyCollection``); on it, a histogram. The bottom row's
        x labels and the left column's y labels name the variables.

    Raises:
        AnalysisError: a DataFrame; an unknown channel; a parameter that is not swept
            or not numeric; no numeric parameter; no ok run with a value.
        PlotUnavailableError: matplotlib is not installed.
    """
    results = results_of(runs, "a corner plot")
    frame = per_run(results, how, metric, report=report, kind=kind)
    names = numeric_parameters(frame, parameters)
    ok = frame[(frame[STATUS_COLUMN] == "ok") & np.isfinite(frame[metric].to_numpy(float))]
    if ok.empty:
        raise AnalysisError(
            f"no run ended ok with a value of {metric}, so there is nothing to draw."
        )
    labels = [*names, f"{metric} ({how})" if metric in names else metric]
    data = [ok[PARAMETER_PREFIX + n].to_numpy(dtype=np.float64) for n in names]
    data.append(ok[metric].to_numpy(dtype=np.float64))
    k = len(labels)
    size = max(2.0, min(2.6, 11.0 / k))
    figure, axes = new_figure(k, k, width=size * k + 1.2, height=size * k)
    binned = len(ok) > hexbin_above
    colour = data[-1]
    mappable: Any = None
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.remove()
                continue
            x, y = data[j], data[i]
            with_metric = i == k - 1  # the metric is the last variable: the bottom row
            if i == j:
                ax.hist(x, bins="auto", color="C1" if with_metric else "C0", alpha=0.75)
                ax.set_yticks([])
            elif binned:
                drawn = ax.hexbin(
                    x,
                    y,
                    C=None if with_metric else colour,
                    reduce_C_function=np.mean,
                    gridsize=30,
                    mincnt=1,
                    cmap="Greys" if with_metric else "viridis",
                    linewidths=0,
                )
                mappable = mappable if with_metric else drawn
            elif with_metric:
                ax.scatter(x, y, s=8, color="C1", alpha=0.7, linewidths=0)
            else:
                mappable = ax.scatter(x, y, s=10, c=colour, cmap="viridis", linewidths=0)
            ax.grid(True, alpha=0.3)
            if i == k - 1:
                ax.set_xlabel(labels[j])
            else:
                ax.tick_params(labelbottom=False)
            if j == 0 and i > 0:
                ax.set_ylabel(labels[i])
            elif j > 0:
                ax.tick_params(labelleft=False)
    if mappable is not None:
        bar = figure.colorbar(mappable, ax=list(figure.axes), shrink=0.6)
        bar.set_label(metric + (" (mean per bin)" if binned else ""))
    not_ok = len(frame) - len(ok)
    title = f"{metric} ({how}) against the parameters: {len(ok)} ok runs"
    figure.suptitle(title + (f"; {not_ok} runs without a value not shown" if not_ok else ""))
    return figure


def numeric_parameters(frame: pd.DataFrame, asked: Sequence[str] | None) -> list[str]:
    """The numeric parameters of a :func:`~gmat_sweep.analysis.per_run` frame (field
    paths, without the ``param:`` prefix): those ``asked``, checked, or all of them.

    Raises:
        AnalysisError: an asked parameter that is not swept or not numeric; none at all.
    """
    import pandas as pd

    swept = swept_parameters(frame)

    def numeric(name: str) -> bool:
        dtype = frame[PARAMETER_PREFIX + name].dtype
        return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)

    if asked is None:
        names = [name for name in swept if numeric(name)]
        if not names:
            raise AnalysisError(
                f"this sweep has no numeric parameter to draw (its parameters: "
                f"{', '.join(swept) or 'none'})."
            )
        return names
    names = list(asked)
    for name in names:
        if name not in swept:
            raise AnalysisError(
                f"{name!r} is not a parameter of this sweep; its parameters: "
                f"{', '.join(swept) or 'none'}."
            )
        if not numeric(name):
            raise AnalysisError(f"parameter {name!r} is not numeric, so it has no axis here.")
    if not names:
        raise AnalysisError("name at least one parameter to draw.")
    return names
