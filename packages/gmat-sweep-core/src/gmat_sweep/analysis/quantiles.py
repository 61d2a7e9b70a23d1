"""Percentile bands: each channel's quantiles across runs at every epoch.

:func:`bands` answers "what do the runs look like over time": one row per epoch, and per
channel the number of runs with a value there and the quantiles asked for. The quantiles
are exact (numpy's default, linear interpolation between order statistics, of every
run's value at that epoch), yet the sweep is never held whole: a first pass over the
dataset reads only each row's run and time and counts the rows at each epoch; the
epochs are then split into consecutive slabs whose values fit in ``max_bytes``, and each
slab is gathered from one further pass over the dataset, batch by batch. A sweep whose
channels fit in ``max_bytes`` takes two passes; a larger one a pass more per slab
(about ``size / max_bytes`` slabs), each reading only the columns asked for.

Epochs match exactly: runs whose report rows fall at different times (a variable-step
propagator reporting every step) share few epochs, and a warning says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from gmat_sweep.analysis.source import OK, RunsLike, Source, open_source, pick_channels
from gmat_sweep.errors import AnalysisError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["bands", "grouped_quantiles", "quantile_label"]

#: Bytes per value held while a slab's quantiles are computed (the value, its time key,
#: and the sort's index and copy).
_BYTES_PER_VALUE = 32


def quantile_label(q: float) -> str:
    """The column label of quantile ``q``, as :meth:`pandas.DataFrame.describe` writes
    percentiles: ``0.01`` -> ``"1%"``, ``0.999`` -> ``"99.9%"``."""
    return f"{100 * q:.6g}%"


def bands(
    runs: RunsLike,
    channels: str | Sequence[str] | None = None,
    q: Sequence[float] = (0.01, 0.5, 0.99),
    *,
    report: str | None = None,
    kind: str | None = None,
    max_bytes: int | None = None,
) -> pd.DataFrame:
    """Quantiles of each channel across the ok runs, at every epoch.

    Args:
        runs: The sweep: its :class:`~gmat_sweep.results.Results`, its directory, or
            its DataFrame (index ``(run_id, time)`` with ``__status``).
        channels: A channel name, several, or None for every numeric channel.
        q: The quantiles, each in [0, 1].
        report, kind: Which output of the sweep (as for ``load_results``).
        max_bytes: About how much memory the values of one slab may take (default: a
            quarter of the memory free here). One epoch is never split.

    Returns:
        A DataFrame indexed by ``time`` (the epochs in order, typed as the sweep's
        DataFrame types them), with columns ``(channel, stat)``: ``count``, the number
        of ok runs with a value (not NaN) at that epoch, then one column per quantile,
        labelled as :func:`quantile_label` writes it (``"1%"``, ``"50%"``, ``"99%"``).
        Only the accepted attempt of each ok run counts; runs that did not end ok have
        no rows, so they are in no band (the sweep's status counts say how many).

    Raises:
        AnalysisError: no run ended ok; an unknown channel; a quantile outside [0, 1];
            two quantiles with the same label.
    """
    import pandas as pd

    qs = _check_quantiles(q)
    source = open_source(runs, report, kind=kind)
    names = pick_channels(source, channels)
    keys, counts = _epoch_counts(source)
    if not len(keys):
        raise AnalysisError(
            f"no run ended ok, so there is nothing to band (runs: {source.status_counts()})."
        )
    _warn_if_misaligned(counts, int(np.count_nonzero(source.codes == OK)))
    budget = max_bytes if max_bytes is not None else _default_budget()
    columns: dict[tuple[str, str], npt.NDArray[Any]] = {}
    parts: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in names}
    for lo, hi in _slabs(keys, counts, max(1, len(names)), budget):
        slab_keys, slab_values = _gather(source, names, int(keys[lo]), int(keys[hi - 1]))
        for name in names:
            result = grouped_quantiles(slab_keys, slab_values[name], qs, keys[lo:hi])
            parts[name].append(result)
    for name in names:
        table = np.concatenate(parts[name]) if parts[name] else np.empty((0, 1 + len(qs)))
        columns[(name, "count")] = table[:, 0].astype(np.int64)
        for j, value in enumerate(qs):
            columns[(name, quantile_label(value))] = table[:, 1 + j]
    frame: pd.DataFrame = pd.DataFrame(columns, index=source.time_index(keys))
    frame.columns = pd.MultiIndex.from_tuples(list(columns), names=["channel", "stat"])
    return frame


def grouped_quantiles(
    keys: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    q: Sequence[float],
    groups: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Per key of ``groups`` (sorted, unique): the count of non-NaN ``values`` with that
    key, then their quantiles ``q``, exactly as :func:`numpy.quantile` (method
    ``"linear"``) computes them; NaN quantiles where a key has no value.

    Returns an array of shape ``(len(groups), 1 + len(q))``.
    """
    valid = ~np.isnan(values)
    keys, values = keys[valid], values[valid]
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    at = np.searchsorted(keys, groups, side="left")
    counts = np.searchsorted(keys, groups, side="right") - at
    out = np.full((len(groups), 1 + len(q)), np.nan)
    out[:, 0] = counts
    has = counts > 0
    starts, sizes = at[has], counts[has]
    for j, quantile in enumerate(q):
        # numpy's "linear" method: virtual index (n - 1) q between two order statistics.
        virtual = (sizes - 1) * quantile
        below = np.floor(virtual)
        gamma = virtual - below
        lower = starts + below.astype(np.int64)
        upper = starts + np.minimum(below.astype(np.int64) + 1, sizes - 1)
        a, b = values[lower], values[upper]
        diff = b - a
        lerp = a + diff * gamma
        high = gamma >= 0.5
        lerp[high] = b[high] - diff[high] * (1 - gamma[high])
        out[has, 1 + j] = lerp
    return out


def _check_quantiles(q: Sequence[float]) -> list[float]:
    values = [float(x) for x in ([q] if isinstance(q, (int, float)) else q)]
    if not values:
        raise AnalysisError("q= is empty; give the quantiles to compute, e.g. (0.01, 0.5, 0.99).")
    bad = [x for x in values if not 0.0 <= x <= 1.0]
    if bad:
        raise AnalysisError(f"quantiles must be in [0, 1] (0.99 is the 99th percentile): {bad}")
    labels = [quantile_label(x) for x in values]
    if len(set(labels)) != len(labels):
        raise AnalysisError(f"two quantiles of q={values} share a column label: {labels}")
    return values


def _epoch_counts(source: Source) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The distinct time keys of the rows that count, sorted, and the rows at each."""
    keys = np.empty(0, dtype=np.int64)
    counts = np.empty(0, dtype=np.int64)
    for batch in source.batches([]):
        new, new_counts = np.unique(batch.time, return_counts=True)
        merged, where = np.unique(np.r_[keys, new], return_inverse=True)
        counts = np.bincount(where, weights=np.r_[counts, new_counts], minlength=len(merged))
        keys, counts = merged, counts.astype(np.int64)
    return keys, counts


def _slabs(
    keys: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], channels: int, budget: int
) -> list[tuple[int, int]]:
    """Consecutive ranges ``[lo, hi)`` of epochs whose values fit in ``budget`` bytes
    (an epoch larger than that is a slab of its own)."""
    per_slab = max(1, budget // (_BYTES_PER_VALUE * channels))
    slabs: list[tuple[int, int]] = []
    lo, rows = 0, 0
    for i, count in enumerate(counts.tolist()):
        if i > lo and rows + count > per_slab:
            slabs.append((lo, i))
            lo, rows = i, 0
        rows += count
    slabs.append((lo, len(keys)))
    return slabs


def _gather(
    source: Source, names: list[str], first: int, last: int
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.float64]]]:
    """Every value of ``names`` at epochs ``first..last``, and their time keys."""
    keys: list[npt.NDArray[np.int64]] = []
    values: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in names}
    for batch in source.batches(names):
        inside = np.flatnonzero((batch.time >= first) & (batch.time <= last))
        keys.append(batch.time[inside])
        for name in names:
            values[name].append(batch.values[name][inside])
    return (
        np.concatenate(keys) if keys else np.empty(0, np.int64),
        {n: np.concatenate(v) if v else np.empty(0) for n, v in values.items()},
    )


def _warn_if_misaligned(counts: npt.NDArray[np.int64], ok_runs: int) -> None:
    """Warn when most epochs hold fewer than half the ok runs."""
    if ok_runs < 2 or float(np.median(counts)) >= ok_runs / 2:
        return
    warnings.warn(
        f"the runs' epochs do not line up: at half of the {len(counts)} epochs fewer than "
        f"{math.ceil(ok_runs / 2)} of the {ok_runs} ok runs have a row, so most bands hold "
        "few runs (see the count columns). Report at fixed times (a fixed-step "
        "propagator, or a report written at fixed intervals) to band across runs.",
        UserWarning,
        stacklevel=3,
    )


def _default_budget() -> int:
    from gmat_sweep.results import _available_memory

    free = _available_memory()
    return max(64 * 2**20, (free or 2**30) // 4)
