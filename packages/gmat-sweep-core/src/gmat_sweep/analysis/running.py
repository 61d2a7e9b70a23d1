"""Whether a Monte Carlo has run enough: running statistics of a metric over run_id.

:func:`convergence` gives, after each run in run_id order, the mean of the metric over
the runs so far, its standard deviation and the standard error of the mean. A mean that
still drifts by more than its standard error calls for more runs (``extend``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gmat_sweep.analysis.runs import Reduction, per_run
from gmat_sweep.analysis.source import RunsLike
from gmat_sweep.errors import AnalysisError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["convergence"]


def convergence(
    runs: RunsLike | pd.Series[Any],
    metric: str | None = None,
    *,
    how: Reduction = "last",
    report: str | None = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """Running mean, standard deviation and standard error of a metric, run by run.

    Args:
        runs: The sweep (its Results, directory or DataFrame), or one value per run:
            a Series indexed by ``run_id`` (a column of :func:`~gmat_sweep.analysis.final`).
        metric: The channel (for a sweep), reduced per run by ``how`` (default: its
            last row). Not given with a Series.
        how, report, kind: What :func:`~gmat_sweep.analysis.per_run` keeps of each run.

    Returns:
        A DataFrame indexed by ``run_id`` (ascending, every run with a committed
        attempt), with columns ``value`` (the run's metric), ``n`` (the values so far),
        ``mean``, ``std`` (sample standard deviation, ``ddof=1``) and ``sem``
        (``std / sqrt(n)``) of the values so far. A run without a value (it did not
        end ok; NaN) adds nothing: ``n`` stays, the statistics carry over, and its
        ``value`` shows NaN, so failed runs are visible, never averaged in.

    Raises:
        AnalysisError: no metric named for a sweep, or a metric with a Series.
    """
    import pandas as pd

    if isinstance(runs, pd.Series):
        if metric is not None:
            raise AnalysisError("metric= is for a sweep; a Series is already the metric.")
        values = runs.sort_index()
    else:
        if metric is None:
            raise AnalysisError("name the metric: a channel, e.g. 'Sat.Earth.Altitude'.")
        values = per_run(runs, how, metric, report=report, kind=kind, with_parameters=False)[metric]
    x = values.to_numpy(dtype=np.float64, na_value=np.nan)
    valid = ~np.isnan(x)
    n = np.cumsum(valid)
    finite = x[valid]
    shift = float(np.mean(finite)) if len(finite) else 0.0  # for accurate sums of squares
    d = np.where(valid, x - shift, 0.0)
    s1, s2 = np.cumsum(d), np.cumsum(d * d)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, shift + s1 / n, np.nan)
        var = np.where(n > 1, (s2 - s1 * s1 / n) / (n - 1), np.nan)
        std = np.sqrt(np.maximum(var, 0.0))
        sem = std / np.sqrt(n)
    index = pd.Index(values.index, name="run_id")
    frame: pd.DataFrame = pd.DataFrame(
        {"value": x, "n": n.astype(np.int64), "mean": mean, "std": std, "sem": sem}, index=index
    )
    return frame
