"""What every picture shares: matplotlib imported on demand, figures drawn with Agg, saving.

Figures are made with :class:`matplotlib.figure.Figure` and an Agg canvas of their own,
never through ``pyplot``: drawing a sweep changes no global matplotlib state (the
user's backend, pyplot's list of open figures), needs no display, and a figure is freed
as soon as it is no longer referenced.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from gmat_sweep.errors import AnalysisError, PlotUnavailableError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gmat_sweep.results import Results

__all__ = [
    "FORMATS",
    "INSTALL_HINT",
    "axis_values",
    "label_axis",
    "new_figure",
    "require_matplotlib",
    "results_of",
    "runs_phrase",
    "save",
    "swept_parameters",
]

INSTALL_HINT = 'pip install "gmat-sweep-core[plot]"'
#: What :func:`save` writes, by the file's suffix.
FORMATS = {".png": "png", ".svg": "svg"}


def require_matplotlib() -> None:
    """Import matplotlib, or raise :class:`~gmat_sweep.errors.PlotUnavailableError`
    saying how to install it."""
    try:
        importlib.import_module("matplotlib.figure")
        importlib.import_module("matplotlib.backends.backend_agg")
    except ImportError as exc:
        raise PlotUnavailableError(
            f"gmat-sweep draws its pictures with matplotlib, which is not installed here "
            f"({exc}). Install it with:\n    {INSTALL_HINT}"
        ) from exc


def new_figure(
    rows: int = 1, cols: int = 1, *, width: float = 7.0, height: float = 4.0, **subplots: Any
) -> tuple[Figure, npt.NDArray[Any]]:
    """A figure of ``width`` x ``height`` inches on its own Agg canvas, and its
    ``rows`` x ``cols`` axes (always a 2-D array)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False, **subplots)
    return figure, axes


def save(figure: Figure, path: str | os.PathLike[str], *, dpi: float = 100) -> Path:
    """Write ``figure`` to ``path``, as PNG or SVG by its suffix; returns the path.

    Raises:
        AnalysisError: a suffix other than ``.png`` or ``.svg``.
    """
    target = Path(path)
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise AnalysisError(
            f"{target}: write a picture to a .png or .svg file (the suffix says which)."
        )
    figure.savefig(target, format=fmt, dpi=dpi)
    return target


def results_of(runs: Any, what: str) -> Results:
    """The sweep's Results for a picture that needs its manifest (the parameters).

    Raises:
        AnalysisError: ``runs`` is a DataFrame (it holds no parameters) or no sweep.
    """
    import pandas as pd

    from gmat_sweep.results import Results

    if isinstance(runs, Results):
        return runs
    if isinstance(runs, (str, os.PathLike)):
        return Results(Path(runs))
    if isinstance(runs, pd.DataFrame):
        raise AnalysisError(
            f"{what} needs the parameters of every run, which the sweep's manifest holds "
            "and a DataFrame does not: pass the sweep's directory or its Results."
        )
    raise AnalysisError(
        f"expected a sweep: its Results or its directory, not {type(runs).__name__}."
    )


def axis_values(values: pd.Series[Any]) -> tuple[npt.NDArray[np.float64], list[str] | None]:
    """Where ``values`` go on an axis: numbers as they are (and no labels), anything else
    (text, booleans) at positions 0, 1, 2... of its sorted distinct values, which are
    returned as the tick labels."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan), None
    labels = sorted({str(v) for v in values if not pd.isna(v)})
    where = {label: float(i) for i, label in enumerate(labels)}
    return np.array([where.get(str(v), np.nan) for v in values], dtype=np.float64), labels


def label_axis(ax: Axes, axis: str, labels: Sequence[str] | None) -> None:
    """Put ``labels`` (from :func:`axis_values`) as the ticks of ``ax``'s ``axis``."""
    if labels is None:
        return
    ticks = list(range(len(labels)))
    if axis == "x":
        ax.set_xticks(ticks, labels, rotation=30, ha="right")
    else:
        ax.set_yticks(ticks, labels)


def runs_phrase(counts: dict[str, int]) -> str:
    """``"60 ok, 2 timeout"``: runs per status, ok first."""
    ordered = sorted(counts.items(), key=lambda item: (item[0] != "ok", item[0]))
    return ", ".join(f"{n} {status}" for status, n in ordered) or "no runs yet"


def swept_parameters(frame: pd.DataFrame) -> list[str]:
    """The parameters of a :func:`~gmat_sweep.analysis.per_run` frame: its ``param:``
    columns' field paths, in order."""
    from gmat_sweep.analysis.runs import PARAMETER_PREFIX

    return [
        str(c)[len(PARAMETER_PREFIX) :]
        for c in frame.columns
        if str(c).startswith(PARAMETER_PREFIX)
    ]
