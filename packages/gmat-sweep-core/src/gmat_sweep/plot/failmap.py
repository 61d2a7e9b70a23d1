"""Which parameter values failed: :func:`failures`.

Every run with a committed attempt, placed by its parameters (the overrides the manifest
records, :func:`gmat_sweep.analysis.parameters`) and marked by how its latest attempt
ended. It reads the manifest only, so it draws a sweep whose runs all failed, too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from gmat_sweep.analysis.runs import parameters as run_parameters
from gmat_sweep.analysis.source import RunsLike
from gmat_sweep.errors import AnalysisError
from gmat_sweep.manifest import STATUSES
from gmat_sweep.plot._figure import axis_values, label_axis, new_figure, results_of, runs_phrase

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MARKERS", "failures"]

#: How each status is drawn: colour and marker. ``ok`` runs are small grey dots.
MARKERS = {
    "ok": ("0.7", "o"),
    "failed": ("C3", "X"),
    "timeout": ("C1", "s"),
    "crashed": ("C4", "D"),
    "lost": ("C7", "^"),
    "unconverged": ("C9", "P"),
}
#: Parameters drawn at most (the first ones, in the design's order) unless named.
_MAX_PARAMETERS = 5


def failures(runs: RunsLike, parameters: Sequence[str] | None = None) -> Figure:
    """A map of the runs by their parameters, marking those that did not end ok.

    Args:
        runs: The sweep: its Results or its directory.
        parameters: The swept fields to place the runs by (default: the design's
            first five). Text and boolean values sit at evenly spaced ticks.

    Returns:
        The figure. One parameter: its values along x, ``run_id`` along y. Several: the
        lower triangle of panels of every pair. In each panel one ``PathCollection``
        per status present, labelled ``"<status> (<runs>)"`` (``ok`` first, grey),
        whose points are those runs' parameter values. Its title counts the runs.

    Raises:
        AnalysisError: a DataFrame; a parameter the sweep does not have; no parameters
            or no run yet.
        PlotUnavailableError: matplotlib is not installed.
    """
    results = results_of(runs, "a failure map")
    table = run_parameters(results)
    swept = [str(c) for c in table.columns]
    names = list(parameters) if parameters is not None else swept[:_MAX_PARAMETERS]
    unknown = [n for n in names if n not in swept]
    if unknown or not names:
        raise AnalysisError(
            f"{', '.join(unknown) or 'no parameter'}: not a parameter of this sweep; its "
            f"parameters: {', '.join(swept) or 'none'}."
        )
    if table.empty:
        raise AnalysisError(f"no run of {results.out_dir} has ended yet, so none can be drawn.")
    codes = np.frombuffer(results.manifest.status_codes(), dtype=np.uint8)
    status = np.array([STATUSES[c] for c in codes[table.index.to_numpy()]], dtype=object)
    placed = {name: axis_values(table[name]) for name in names}
    k = len(names)
    if k == 1:
        figure, axes = new_figure(width=7.0, height=3.6)
        run_ids = table.index.to_numpy(dtype=np.float64)
        _draw(axes[0, 0], placed[names[0]][0], run_ids, status)
        axes[0, 0].set_xlabel(names[0])
        axes[0, 0].set_ylabel("run_id")
        label_axis(axes[0, 0], "x", placed[names[0]][1])
    else:
        size = max(2.4, min(3.6, 10.0 / (k - 1)))
        figure, axes = new_figure(k - 1, k - 1, width=size * (k - 1) + 1.5, height=size * (k - 1))
        for row in range(k - 1):
            for col in range(k - 1):
                ax = axes[row, col]
                if col > row:
                    ax.remove()
                    continue
                x_name, y_name = names[col], names[row + 1]
                _draw(ax, placed[x_name][0], placed[y_name][0], status)
                if row == k - 2:
                    ax.set_xlabel(x_name)
                    label_axis(ax, "x", placed[x_name][1])
                else:
                    ax.tick_params(labelbottom=False)
                if col == 0:
                    ax.set_ylabel(y_name)
                    label_axis(ax, "y", placed[y_name][1])
                else:
                    ax.tick_params(labelleft=False)
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    counts = results.manifest.status_counts()
    not_ok = sum(n for s, n in counts.items() if s != "ok")
    missing = results.manifest.n_runs - sum(counts.values())
    title = f"{not_ok} of {sum(counts.values())} runs did not end ok ({runs_phrase(counts)})"
    figure.suptitle(title + (f"; {missing} not run yet" if missing else ""), fontsize=10)
    return figure


def _draw(
    ax: Axes, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], status: npt.NDArray[Any]
) -> None:
    for name, (colour, marker) in MARKERS.items():
        mask = status == name
        if not mask.any():
            continue
        ok = name == "ok"
        ax.scatter(
            x[mask],
            y[mask],
            s=12 if ok else 46,
            color=colour,
            marker=marker,
            linewidths=0,
            label=f"{name} ({int(mask.sum())})",
            zorder=1 if ok else 3,
        )
    ax.grid(True, alpha=0.3)
