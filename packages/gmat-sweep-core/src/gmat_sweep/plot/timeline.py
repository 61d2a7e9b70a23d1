"""Percentile bands of a channel over time: :func:`bands`.

The numbers are :func:`gmat_sweep.analysis.bands`'s (exact quantiles across the ok runs
at every epoch); :func:`draw_bands` draws a table of them, so a caller that has one
(the report) does not compute it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gmat_sweep.analysis.quantiles import quantile_label
from gmat_sweep.analysis.source import RunsLike
from gmat_sweep.errors import AnalysisError
from gmat_sweep.plot._figure import new_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_QUANTILES", "bands", "draw_bands"]

#: The 1-99 % and 25-75 % bands and the median.
DEFAULT_QUANTILES = (0.01, 0.25, 0.5, 0.75, 0.99)


def bands(
    runs: RunsLike,
    channels: str | Sequence[str],
    q: Sequence[float] = DEFAULT_QUANTILES,
    *,
    report: str | None = None,
    kind: str | None = None,
) -> Figure:
    """Each channel's percentiles across the ok runs, over time: one panel per channel.

    Args:
        runs: The sweep: its Results, its directory, or its DataFrame.
        channels: A channel, or several (one panel each, sharing the time axis).
        q: The quantiles. They are paired from the outside in, each pair shaded as a
            band (``0.01`` with ``0.99``, ``0.25`` with ``0.75``); an unpaired middle
            one (``0.5``) is drawn as a line.
        report, kind: Which output of the sweep (as for ``load_results``).

    Returns:
        The figure: per channel an axes with the channel as its y label, one shaded
        band (a ``PolyCollection``) per pair of quantiles and one line for a middle
        quantile, the numbers of :func:`gmat_sweep.analysis.bands`.

    Raises:
        AnalysisError: as :func:`gmat_sweep.analysis.bands` (no ok run, an unknown
            channel, a bad quantile); no channel named.
        PlotUnavailableError: matplotlib is not installed.
    """
    from gmat_sweep.analysis.quantiles import bands as compute_bands

    names = [channels] if isinstance(channels, str) else list(channels)
    if not names:
        raise AnalysisError("name at least one channel to draw, e.g. 'Sat.Earth.Altitude'.")
    table = compute_bands(runs, names, q, report=report, kind=kind)
    return draw_bands(table, names, q)


def draw_bands(
    table: pd.DataFrame,
    channels: Sequence[str],
    q: Sequence[float] = DEFAULT_QUANTILES,
    *,
    width: float = 7.0,
    panel_height: float = 2.6,
) -> Figure:
    """Draw a table of :func:`gmat_sweep.analysis.bands` (its ``(channel, stat)``
    columns, computed with ``q``): one panel per channel, as :func:`bands` describes."""
    import pandas as pd

    qs = sorted(float(x) for x in q)
    pairs = [(qs[i], qs[-1 - i]) for i in range(len(qs) // 2)]
    middle = qs[len(qs) // 2] if len(qs) % 2 else None
    figure, axes = new_figure(
        len(channels), 1, width=width, height=panel_height * len(channels), sharex=True
    )
    index = table.index
    x = index.to_numpy() if isinstance(index, pd.DatetimeIndex) else index.to_numpy(dtype=float)
    for ax, channel in zip(axes[:, 0], channels, strict=True):
        runs = int(table[(channel, "count")].max()) if len(table) else 0
        for depth, (low, high) in enumerate(pairs):
            ax.fill_between(
                x,
                table[(channel, quantile_label(low))].to_numpy(dtype=float),
                table[(channel, quantile_label(high))].to_numpy(dtype=float),
                color="C0",
                alpha=min(0.2 + 0.2 * depth, 0.6),  # inner bands darker
                linewidth=0,
                label=f"{quantile_label(low)} to {quantile_label(high)}",
            )
        if middle is not None:
            ax.plot(
                x,
                table[(channel, quantile_label(middle))].to_numpy(dtype=float),
                color="C0",
                linewidth=1.5,
                label=quantile_label(middle) + (" (median)" if middle == 0.5 else ""),
            )
        ax.set_ylabel(channel)
        ax.set_title(f"{channel}: percentiles across {runs} ok runs", loc="left", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[-1, 0].set_xlabel("time" if isinstance(index, pd.DatetimeIndex) else "row of the run")
    return figure
