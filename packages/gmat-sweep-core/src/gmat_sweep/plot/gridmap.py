"""A metric over a two-axis grid: :func:`heatmap`.

One cell per run of a grid of two parameters (the others fixed, or fixed with ``at=``),
coloured by the run's metric (:func:`gmat_sweep.analysis.per_run`). Cells are placed by
the rank of their value on each axis, so uneven grids (powers of ten) have even cells,
and their ticks read the values. A run that did not end ok is a grey cell with a red
cross: the map shows which combinations failed, not a hole that looks like a low value.
"""

from __future__ import annotations

from collections.abc import Mapping
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

__all__ = ["heatmap", "select_runs"]

#: Grids of at most this many cells get their values written in them by default.
_ANNOTATE_UP_TO = 144


def heatmap(
    runs: RunsLike,
    metric: str,
    x: str | None = None,
    y: str | None = None,
    *,
    how: Reduction = "last",
    at: Mapping[str, Any] | None = None,
    annotate: bool | None = None,
    report: str | None = None,
    kind: str | None = None,
) -> Figure:
    """A heat map of ``metric`` over two parameters of a grid.

    Args:
        runs: The sweep: its Results or its directory (not a DataFrame: the parameters
            come from the manifest).
        metric: The channel, reduced per run by ``how`` (default: its last row).
        x, y: The parameters along each axis. Default: the two parameters whose values
            vary, in the design's order.
        at: Values of the other parameters, to draw one slice of a larger grid
            (``{"Raise.Element1": 0.02}``).
        annotate: Write each cell's value (or the status of a run that did not end
            ok) in it. Default: for grids of at most 144 cells.
        report, kind: Which output of the sweep (as for ``load_results``).

    Returns:
        The figure: one axes holding the map (an ``AxesImage``, rows ``y`` from the
        bottom, columns ``x``, NaN where no run ended ok), ``x`` and ``y`` as its labels,
        red crosses (a ``PathCollection`` labelled ``not ok``) on the cells of runs
        that did not end ok, and a colour bar labelled with the metric.

    Raises:
        AnalysisError: a DataFrame; not two varying parameters (or others left free);
            runs that are not a grid over them (two runs in one cell, or, for a design
            other than a grid, cells without a run); an unknown parameter, value or
            channel.
        PlotUnavailableError: matplotlib is not installed.
    """
    results = results_of(runs, "a heat map")
    frame = select_runs(per_run(results, how, metric, report=report, kind=kind), at)
    x, y = _axes(frame, x, y)
    xs, x_labels = _ranks(frame[PARAMETER_PREFIX + x])
    ys, y_labels = _ranks(frame[PARAMETER_PREFIX + y])
    cells = xs * len(y_labels) + ys
    if len(np.unique(cells)) != len(cells):
        raise AnalysisError(
            f"several runs share a cell of {x} by {y}, so this is not a grid over them; fix "
            "the other parameters with at=, or draw the runs with pairs()."
        )
    design = results.manifest.header.get("design") or {}
    if len(cells) < len(x_labels) * len(y_labels) and design.get("kind") != "grid":
        raise AnalysisError(
            f"these {len(cells)} runs do not make a grid over {x} and {y} (it would have "
            f"{len(x_labels) * len(y_labels)} cells): draw them with pairs() instead."
        )
    grid = np.full((len(y_labels), len(x_labels)), np.nan)
    grid[ys, xs] = frame[metric].to_numpy(dtype=np.float64)
    figure, axes = new_figure(
        width=min(11.0, 3.0 + 0.55 * len(x_labels)), height=min(9.0, 2.4 + 0.4 * len(y_labels))
    )
    ax = axes[0, 0]
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d9d9d9")
    image = ax.imshow(
        np.ma.masked_invalid(grid),
        origin="lower",
        aspect="auto",
        cmap=cmap,
        interpolation="nearest",
    )
    status = frame[STATUS_COLUMN].to_numpy(dtype=object)
    bad = status != "ok"
    if bad.any():
        ax.scatter(xs[bad], ys[bad], marker="x", color="C3", s=60, label=f"not ok ({bad.sum()})")
        figure.legend(loc="outside lower right", fontsize=8)
    if annotate if annotate is not None else grid.size <= _ANNOTATE_UP_TO:
        values = frame[metric].to_numpy(dtype=np.float64)
        for cx, cy, value, what in zip(xs, ys, values, status, strict=True):
            text = f"{value:.4g}" if what == "ok" and np.isfinite(value) else str(what)
            ax.text(
                cx,
                cy + (0.25 if what != "ok" else 0),
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if what == "ok" else "black",
            )
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=30 if len(x_labels) > 6 else 0)
    ax.set_yticks(range(len(y_labels)), y_labels)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    bar = figure.colorbar(image, ax=ax)
    bar.set_label(metric)
    fixed = ", ".join(f"{k} = {v}" for k, v in (at or {}).items())
    ax.set_title(f"{metric} ({how})" + (f" at {fixed}" if fixed else ""), loc="left", fontsize=10)
    return figure


def select_runs(frame: pd.DataFrame, at: Mapping[str, Any] | None) -> pd.DataFrame:
    """The rows of a per-run frame whose parameters equal ``at``'s values (numbers
    within a relative 1e-9).

    Raises:
        AnalysisError: a name that is not a parameter; a value no run has.
    """
    for name, value in (at or {}).items():
        column = PARAMETER_PREFIX + name
        if column not in frame.columns:
            raise AnalysisError(f"at={{{name!r}: ...}}: {name!r} is not a parameter of this sweep.")
        values = frame[column]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            keep = np.isclose(numbers, float(value), rtol=1e-9, atol=0.0)
        else:
            keep = (values.astype(str) == str(value)).to_numpy()
        if not keep.any():
            have = ", ".join(str(v) for v in sorted(values.dropna().unique().tolist())[:12])
            raise AnalysisError(f"no run has {name} = {value!r}; its values: {have}.")
        frame = frame[keep]
    return frame


def _axes(frame: pd.DataFrame, x: str | None, y: str | None) -> tuple[str, str]:
    swept = swept_parameters(frame)
    for name in (x, y):
        if name is not None and name not in swept:
            raise AnalysisError(
                f"{name!r} is not a parameter of this sweep; its parameters: {', '.join(swept)}."
            )
    varying = [p for p in swept if frame[PARAMETER_PREFIX + p].nunique(dropna=True) > 1]
    if x is None and y is None:
        if len(varying) != 2:
            raise AnalysisError(
                f"a heat map needs two parameters that vary; here {len(varying)} do "
                f"({', '.join(varying) or 'none'}): name x= and y=, and fix the others with at=."
            )
        return varying[0], varying[1]
    if x is None or y is None or x == y:
        raise AnalysisError("name two different parameters, x= and y= (or neither).")
    free = [p for p in varying if p not in (x, y)]
    if free:
        raise AnalysisError(
            f"{', '.join(free)} also vary: fix them with at= (e.g. at={{{free[0]!r}: ...}}) "
            "to draw one slice of the grid."
        )
    return x, y


def _ranks(values: pd.Series[Any]) -> tuple[np.ndarray[Any, np.dtype[np.intp]], list[str]]:
    """Each value's rank among the distinct values (sorted), and those values as text."""
    import pandas as pd

    if values.isna().any():
        raise AnalysisError(f"some runs have no value of {values.name}, so they have no cell.")
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    )
    keys = values.to_numpy(dtype=np.float64) if numeric else values.astype(str).to_numpy()
    distinct, ranks = np.unique(keys, return_inverse=True)
    labels = [f"{v:.6g}" if numeric else str(v) for v in distinct.tolist()]
    return ranks.astype(np.intp), labels
