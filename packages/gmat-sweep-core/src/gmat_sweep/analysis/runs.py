"""Per-run reductions: one row per run (its last row, or a channel's min, max...) joined
with the parameters the run ran with.

:func:`per_run` reads the sweep batch by batch and keeps one value per run and channel,
so it needs memory for the result only (one row per run), never for the sweep's rows.
:func:`final` is ``per_run(how="last")``. :func:`parameters` is the overrides of every
run, as the manifest records them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from gmat_sweep.analysis.source import Batch, RunsLike, Source, open_source, pick_channels
from gmat_sweep.errors import AnalysisError
from gmat_sweep.frame import status_column
from gmat_sweep.results import STATUS_COLUMN, Results

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PARAMETER_PREFIX", "REDUCTIONS", "Reduction", "final", "parameters", "per_run"]

Reduction = Literal["last", "first", "min", "max", "mean"]
#: What :func:`per_run` can keep of each run.
REDUCTIONS: tuple[Reduction, ...] = ("last", "first", "min", "max", "mean")
#: Parameter columns are named ``param:<field path>``: a swept field is often also a
#: report channel (``Sat.SMA``), and the two must not collide.
PARAMETER_PREFIX = "param:"


def per_run(
    runs: RunsLike,
    how: Reduction = "last",
    channels: str | Sequence[str] | None = None,
    *,
    report: str | None = None,
    kind: str | None = None,
    with_parameters: bool = True,
) -> pd.DataFrame:
    """One row per run: each channel reduced over the run's rows.

    Args:
        runs: The sweep: its Results, its directory, or its DataFrame.
        how: ``"last"`` or ``"first"``: the value in the run's last (first) row, as
            GMAT wrote them (NaN if that value is NaN); ``"min"``, ``"max"``,
            ``"mean"``: over the run's values that are not NaN.
        channels: A channel, several, or None for every numeric channel.
        report, kind: Which output of the sweep (as for ``load_results``).
        with_parameters: Add the run's overrides as ``param:<field>`` columns (read from
            the manifest; a DataFrame carries none).

    Returns:
        A DataFrame indexed by ``run_id`` (ascending): one row per run with a committed
        attempt, including runs that did not end ok, whose channels are NaN; columns:
        the channels (float64), ``__status``, then the parameters. Runs not yet run
        have no row, as in the sweep's DataFrame.

    Raises:
        AnalysisError: an unknown ``how`` or channel.
    """
    import pandas as pd

    if how not in REDUCTIONS:
        raise AnalysisError(f"how={how!r} is not a reduction; use one of {', '.join(REDUCTIONS)}")
    source = open_source(runs, report, kind=kind)
    names = pick_channels(source, channels)
    values = _reduce(source, names, how)
    present = np.flatnonzero(source.codes != 0)
    index = pd.Index(present.astype(np.int64), name="run_id")
    data: dict[str, Any] = {name: values[name][present] for name in names}
    data[STATUS_COLUMN] = status_column(source.codes[present])
    frame: pd.DataFrame = pd.DataFrame(data, index=index)
    if with_parameters and source.results is not None:
        params = parameters(source.results).add_prefix(PARAMETER_PREFIX)
        frame = frame.join(params, how="left")
    return frame


def final(
    runs: RunsLike,
    channels: str | Sequence[str] | None = None,
    *,
    report: str | None = None,
    kind: str | None = None,
    with_parameters: bool = True,
) -> pd.DataFrame:
    """Each run's last row: ``per_run(runs, "last", channels, ...)`` (see :func:`per_run`)."""
    return per_run(
        runs, "last", channels, report=report, kind=kind, with_parameters=with_parameters
    )


def parameters(runs: Results | Any) -> pd.DataFrame:
    """The overrides every run ran with: one row per run with a committed attempt, indexed
    by ``run_id``, one column per field path (the design's order), read from the
    manifest's line of the run's latest attempt.

    Raises:
        FileNotFoundError: a directory that holds no sweep.
    """
    import pandas as pd

    results = runs if isinstance(runs, Results) else Results(runs)
    manifest = results.manifest
    order = [str(p) for p in manifest.header.get("design", {}).get("parameters", [])]
    columns: dict[str, list[Any]] = {name: [None] * manifest.n_runs for name in order}
    for record in manifest.run_entries():
        run_id = int(record["run_id"])
        if run_id >= manifest.n_runs:
            continue
        for name, value in (record.get("overrides") or {}).items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * manifest.n_runs
            column[run_id] = value
    codes = np.frombuffer(manifest.status_codes(), dtype=np.uint8)
    present = np.flatnonzero(codes != 0)
    frame: pd.DataFrame = pd.DataFrame(
        {name: [column[i] for i in present] for name, column in columns.items()},
        index=pd.Index(present.astype(np.int64), name="run_id"),
    ).infer_objects()
    return frame


def _reduce(source: Source, names: list[str], how: Reduction) -> dict[str, npt.NDArray[np.float64]]:
    """Per channel, one value per run id (NaN for runs without rows)."""
    n = len(source.codes)
    out = {name: np.full(n, np.nan) for name in names}
    if how == "mean":
        sums = {name: np.zeros(n) for name in names}
        counts = {name: np.zeros(n, dtype=np.int64) for name in names}
    seen = np.zeros(n, dtype=bool)
    for batch in source.batches(names):
        if how in ("last", "first"):
            ids, rows = _ends(batch, last=how == "last", seen=seen)
            for name in names:
                out[name][ids] = batch.values[name][rows]
            continue
        for name in names:
            values = batch.values[name]
            valid = ~np.isnan(values)
            ids, values = batch.ids[valid], values[valid]
            if how == "min":
                np.fmin.at(out[name], ids, values)
            elif how == "max":
                np.fmax.at(out[name], ids, values)
            else:
                np.add.at(sums[name], ids, values)
                np.add.at(counts[name], ids, 1)
    if how == "mean":
        for name in names:
            has = counts[name] > 0
            out[name][has] = sums[name][has] / counts[name][has]
    return out


def _ends(
    batch: Batch, *, last: bool, seen: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """The run ids of a batch and the row of each to keep: its last row here (``last``:
    later batches win), or its first row, if no earlier batch had one (``seen``)."""
    ids = batch.ids
    if last:
        unique, from_end = np.unique(ids[::-1], return_index=True)
        return unique, len(ids) - 1 - from_end
    unique, first = np.unique(ids, return_index=True)
    new = ~seen[unique]
    seen[unique] = True
    return unique[new], first[new]
