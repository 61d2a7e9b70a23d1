"""Whether a Monte Carlo has run enough: :func:`convergence`.

The numbers are :func:`gmat_sweep.analysis.convergence`'s: after each run (in run_id
order) the mean of a metric over the runs so far and its standard error. The top panel
shows every run's value, the running mean and the normal-approximation interval of the
mean (``mean ± z * sem``); the bottom one the standard error itself, against the
``1 / sqrt(n)`` it should follow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gmat_sweep.analysis.runs import Reduction
from gmat_sweep.analysis.source import RunsLike
from gmat_sweep.errors import AnalysisError
from gmat_sweep.plot._figure import new_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["convergence", "draw_convergence"]


def convergence(
    runs: RunsLike | pd.Series[Any],
    metric: str | None = None,
    *,
    how: Reduction = "last",
    confidence: float = 0.95,
    report: str | None = None,
    kind: str | None = None,
) -> Figure:
    """The running mean of a metric over run_id, with its interval and standard error.

    Args:
        runs, metric, how, report, kind: As for
            :func:`gmat_sweep.analysis.convergence` (a sweep and a channel, or a Series
            of one value per run).
        confidence: The interval drawn around the running mean: ``mean ± z * sem``
            with ``z`` the normal quantile of ``(1 + confidence) / 2`` (1.96 for 0.95).

    Returns:
        The figure: two axes sharing ``run_id`` as x. The top one holds the runs'
        values (points), the running ``mean`` (a line whose data is the table's
        ``mean`` column) and the interval (a ``PolyCollection``); the bottom one the
        ``sem`` line and the ``sem`` that ``1 / sqrt(n)`` predicts from the last run.

    Raises:
        AnalysisError: as :func:`gmat_sweep.analysis.convergence`; a confidence not
            strictly between 0 and 1; no run with a value.
        PlotUnavailableError: matplotlib is not installed.
    """
    from gmat_sweep.analysis.running import convergence as running

    table = running(runs, metric, how=how, report=report, kind=kind)
    label = metric if metric is not None else str(getattr(runs, "name", None) or "value")
    return draw_convergence(table, label, confidence=confidence)


def draw_convergence(
    table: pd.DataFrame,
    label: str,
    *,
    confidence: float = 0.95,
    width: float = 7.0,
    height: float = 5.0,
) -> Figure:
    """Draw a table of :func:`gmat_sweep.analysis.convergence`, as :func:`convergence`
    describes."""
    from scipy.stats import norm

    if not 0.0 < confidence < 1.0:
        raise AnalysisError(f"confidence={confidence!r} must be strictly between 0 and 1.")
    if not int(table["n"].max() if len(table) else 0):
        raise AnalysisError(f"no run has a value of {label}, so there is nothing to draw.")
    z = float(norm.ppf((1.0 + confidence) / 2.0))
    run_id = table.index.to_numpy(dtype=np.float64)
    mean = table["mean"].to_numpy(dtype=np.float64)
    sem = table["sem"].to_numpy(dtype=np.float64)
    n = table["n"].to_numpy(dtype=np.float64)
    figure, axes = new_figure(
        2, 1, width=width, height=height, sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    top, bottom = axes[0, 0], axes[1, 0]
    top.scatter(
        run_id,
        table["value"].to_numpy(dtype=np.float64),
        s=6,
        color="0.6",
        linewidths=0,
        label="value of each run",
    )
    top.fill_between(
        run_id,
        mean - z * sem,
        mean + z * sem,
        color="C0",
        alpha=0.25,
        linewidth=0,
        label=f"{confidence:.0%} interval of the mean (±{z:.3g} SE)",
    )
    top.plot(run_id, mean, color="C0", linewidth=1.5, label="running mean")
    top.set_ylabel(label)
    top.legend(loc="best", fontsize=8)
    top.grid(True, alpha=0.3)
    last = int(table["n"].iloc[-1])
    top.set_title(
        f"{label}: mean {mean[-1]:.6g} ± {z * sem[-1]:.3g} after {last} values",
        loc="left",
        fontsize=10,
    )
    bottom.plot(run_id, sem, color="C0", linewidth=1.2, label="standard error of the mean")
    final_sem = sem[-1]
    if np.isfinite(final_sem) and last > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            predicted = np.where(n > 1, final_sem * np.sqrt(last / n), np.nan)
        bottom.plot(
            run_id,
            predicted,
            color="0.4",
            linestyle=":",
            linewidth=1.0,
            label="1/sqrt(n) from the last run",
        )
    bottom.set_ylabel("standard error")
    bottom.set_xlabel("run_id")
    bottom.legend(loc="best", fontsize=8)
    bottom.grid(True, alpha=0.3)
    return figure
