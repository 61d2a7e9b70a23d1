"""``gmat-sweep stats``: one channel's per-run value summarised, with its tolerance bound.

:func:`stat_lines` yields the lines the command prints, the summary first, so that what
can be said is printed before a bound that cannot be computed (too few runs, or runs
that did not end ok with no choice made) raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gmat_sweep.analysis.runs import Reduction, per_run
from gmat_sweep.analysis.tolerance import NanPolicy, Side, tolerance_bound
from gmat_sweep.manifest import STATUSES
from gmat_sweep.results import STATUS_COLUMN, Results

__all__ = ["stat_lines"]

_HOW = {
    "last": "its last row",
    "first": "its first row",
    "min": "its minimum",
    "max": "its maximum",
    "mean": "its mean",
}


def stat_lines(
    out: Path,
    channel: str,
    *,
    how: Reduction = "last",
    coverage: float = 0.99,
    confidence: float = 0.95,
    side: Side = "upper",
    order: int | None = None,
    nan: NanPolicy = "raise",
    report: str | None = None,
) -> Iterator[str]:
    """The summary of ``channel`` (one value per run: ``how``) and its tolerance bound.

    Raises (after yielding the summary):
        NotEnoughRunsError: too few runs for the bound (the message says how many more).
        AnalysisError: runs without a value and ``nan="raise"``; an unknown channel.
        FileNotFoundError: ``out`` holds no sweep.
    """
    results = Results(out)
    frame = per_run(results, how, channel, report=report, with_parameters=False)
    values = frame[channel].to_numpy(dtype=np.float64, na_value=np.nan)
    status = frame[STATUS_COLUMN]
    counts = status.value_counts()
    counts = counts[counts > 0]  # a categorical counts every status, also those no run has
    not_run = results.manifest.n_runs - len(frame)
    runs = ", ".join(
        f"{int(counts[s])} {s}" for s in STATUSES if s in counts.index
    )  # ok first, then the others in the manifest's order
    yield f"{channel}, {_HOW[how]} in each run of {out}"
    yield f"  runs:        {runs}" + (f", {not_run} not run yet" if not_run else "")
    present = values[~np.isnan(values)]
    missing = len(values) - len(present)
    if len(present):
        std = f"{np.std(present, ddof=1):.10g}" if len(present) > 1 else "n/a"
        yield (
            f"  values:      {len(present)}: min {present.min():.10g}, mean "
            f"{present.mean():.10g}, std {std}, max {present.max():.10g}"
        )
        shown = ", ".join(
            f"{label} {np.quantile(present, q):.10g}"
            for label, q in (("1%", 0.01), ("50%", 0.5), ("99%", 0.99))
        )
        yield f"  percentiles: {shown}"
    if missing:
        yield f"  no value:    {missing} runs (did not end ok, or NaN)"
    yield f"  {tolerance_bound(values, coverage, confidence, side, order=order, nan=nan)}"
