"""How one value per run is spread: a histogram or an ECDF, with a tolerance bound marked.

The values are :func:`gmat_sweep.analysis.per_run`'s; the bound is
:func:`gmat_sweep.analysis.tolerance_bound`'s (Wilks), drawn as a vertical line at its
value (two lines for a two-sided interval) and spelled out in the legend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from gmat_sweep.analysis.runs import Reduction, per_run
from gmat_sweep.analysis.source import RunsLike
from gmat_sweep.analysis.tolerance import NanPolicy, Side, ToleranceBound, tolerance_bound
from gmat_sweep.errors import AnalysisError
from gmat_sweep.plot._figure import new_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["Style", "distribution", "draw_distribution"]

Style = Literal["hist", "ecdf"]
_HOW = {"last": "last row", "first": "first row", "min": "min", "max": "max", "mean": "mean"}


def distribution(
    runs: RunsLike | pd.Series[Any],
    channel: str | None = None,
    *,
    how: Reduction = "last",
    style: Style = "hist",
    coverage: float | None = None,
    confidence: float = 0.95,
    side: Side = "upper",
    nan: NanPolicy = "raise",
    bins: int | str = "auto",
    report: str | None = None,
    kind: str | None = None,
) -> Figure:
    """A histogram (``style="hist"``) or the empirical CDF (``"ecdf"``) of one value per run.

    Args:
        runs: The sweep (its Results, directory or DataFrame), or one value per run: a
            Series indexed by ``run_id`` (a column of :func:`~gmat_sweep.analysis.final`),
            NaN for a run without a value.
        channel: The channel (for a sweep), reduced per run by ``how`` (default: its
            last row). Not given with a Series (its name labels the axis).
        coverage: Mark the Wilks tolerance bound of this coverage at ``confidence`` on
            ``side`` (:func:`~gmat_sweep.analysis.tolerance_bound`); None: no bound.
        nan: What the bound does with runs without a value (that did not end ok), as
            for :func:`~gmat_sweep.analysis.tolerance_bound`: ``"raise"`` (default),
            ``"omit"`` or ``"worst"``. They are never drawn; the title counts them.
        bins: The histogram's bins (as :func:`numpy.histogram_bin_edges` takes them).
        report, kind: Which output of the sweep (as for ``load_results``).

    Returns:
        The figure: one axes with ``channel`` as its x label; the bars of the histogram
        (a ``BarContainer``) or the ECDF's step line; and, with ``coverage``, one
        vertical line per bound at the bound's value, labelled with it.

    Raises:
        AnalysisError: no value to draw; an unknown channel; a channel with a Series;
            a bound that cannot be computed (too few runs: ``NotEnoughRunsError``,
            runs without a value and ``nan="raise"``, a bad coverage or confidence).
        PlotUnavailableError: matplotlib is not installed.
    """
    import pandas as pd

    if isinstance(runs, pd.Series):
        if channel is not None:
            raise AnalysisError("channel= is for a sweep; a Series is already the values.")
        values, name, title = runs, str(runs.name or "value"), str(runs.name or "value")
    else:
        if channel is None:
            raise AnalysisError("name the channel: e.g. 'Sat.Earth.Altitude'.")
        frame = per_run(runs, how, channel, report=report, kind=kind, with_parameters=False)
        values, name = frame[channel], channel
        title = f"{channel} ({_HOW[how]} of each run)"
    data = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bound = None
    if coverage is not None:
        bound = tolerance_bound(data, coverage, confidence, side, nan=nan)
    return draw_distribution(data, name, style=style, bound=bound, bins=bins, title=title)


def draw_distribution(
    values: npt.NDArray[np.float64],
    label: str,
    *,
    style: Style = "hist",
    bound: ToleranceBound | None = None,
    bins: int | str = "auto",
    title: str | None = None,
    width: float = 7.0,
    height: float = 3.6,
) -> Figure:
    """Draw one value per run (NaN values left out; the title counts them), as
    :func:`distribution` describes, with ``bound`` marked when given."""
    if style not in ("hist", "ecdf"):
        raise AnalysisError(f"style={style!r}; use 'hist' or 'ecdf'.")
    finite = values[np.isfinite(values)]
    if not len(finite):
        raise AnalysisError(f"{label} has no value in any run, so there is nothing to draw.")
    figure, axes = new_figure(width=width, height=height)
    ax = axes[0, 0]
    if style == "hist":
        edges = np.histogram_bin_edges(finite, bins=bins)
        ax.hist(finite, bins=edges, color="C0", alpha=0.75, edgecolor="white", linewidth=0.5)
        ax.set_ylabel("runs")
    else:
        ordered = np.sort(finite)
        fraction = np.arange(1, len(ordered) + 1) / len(ordered)
        ax.step(ordered, fraction, where="post", color="C0", linewidth=1.5, label="ECDF")
        ax.set_ylim(0.0, 1.02)
        ax.set_ylabel("fraction of runs at or below")
    if bound is not None:
        label_text = (
            f"{bound.side} tolerance bound {_shown(bound)} ({bound.coverage:.6g} coverage, "
            f"{bound.confidence:.6g} confidence; order {bound.order} of {bound.n})"
        )
        style_of = {"color": "C3", "linestyle": "--", "linewidth": 1.5}
        ends = [v for v in (bound.lower, bound.upper) if v is not None and np.isfinite(v)]
        for i, value in enumerate(ends):
            ax.axvline(value, label=label_text if i == 0 else "_nolegend_", **style_of)
        if not ends:  # an infinite bound (nan="worst"): nothing to draw, but say so
            ax.plot([], [], label=label_text, **style_of)
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(label)
    ax.grid(True, alpha=0.3)
    heading = f"{title or label}: {len(finite)} values"
    if len(finite) < len(values):
        heading += f", {len(values) - len(finite)} runs without one (not ok)"
    ax.set_title(heading, loc="left", fontsize=10)
    return figure


def _shown(bound: ToleranceBound) -> str:
    value = bound.value
    if isinstance(value, tuple):
        return f"[{value[0]:.6g}, {value[1]:.6g}]"
    return f"{value:.6g}"
