"""The probability of an event (a missed corridor, a low perigee) from the runs that met it.

:func:`failure_probability` evaluates a condition on each ok run's values (one row per
run, from :func:`~gmat_sweep.analysis.per_run`) and gives the fraction that meet it with
an exact (Clopper-Pearson) binomial confidence interval, :func:`binomial_interval`.
Runs that did not end ok are not trials: they are counted apart, by status, never as
runs that did not meet the condition; :attr:`Probability.worst_case_high` says how high
the probability could be if every one of them had met it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from gmat_sweep.analysis.runs import Reduction, per_run
from gmat_sweep.analysis.source import RunsLike
from gmat_sweep.errors import AnalysisError
from gmat_sweep.results import STATUS_COLUMN, Results

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["IntervalSide", "Probability", "binomial_interval", "failure_probability"]

IntervalSide = Literal["two-sided", "upper", "lower"]


@dataclass(frozen=True)
class Probability:
    """How often a condition held among the runs that ended ok.

    Attributes:
        events: Ok runs that met the condition.
        trials: Ok runs (the condition was evaluated on each).
        low, high: The Clopper-Pearson confidence interval of the probability
            (``low`` is 0 for ``side="upper"``, ``high`` 1 for ``side="lower"``).
        confidence: The interval's confidence level.
        side: ``"two-sided"``, ``"upper"`` (a bound from above) or ``"lower"``.
        not_ok: Runs that did not end ok, by status (``{"failed": 2}``): not trials.
        not_run: Runs of the sweep with no committed attempt yet: not trials.
        worst_case_high: The interval's upper end if every run in ``not_ok`` had met
            the condition (equal to ``high`` when all runs ended ok).
    """

    events: int
    trials: int
    low: float
    high: float
    confidence: float
    side: IntervalSide
    not_ok: Mapping[str, int] = field(default_factory=dict)
    not_run: int = 0
    worst_case_high: float = 1.0

    @property
    def estimate(self) -> float:
        """The observed fraction, ``events / trials``."""
        return self.events / self.trials

    def __str__(self) -> str:
        excluded = sum(self.not_ok.values())
        lines = [
            f"{self.events} of {self.trials} ok runs ({self.estimate:.6g}); "
            f"{self.confidence:.6g} {self.side} Clopper-Pearson interval "
            f"[{self.low:.6g}, {self.high:.6g}]"
        ]
        if excluded:
            statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.not_ok.items()))
            lines.append(
                f"not counted: {statuses}; had they all met the condition, the upper end "
                f"would be {self.worst_case_high:.6g}"
            )
        if self.not_run:
            lines.append(f"not counted: {self.not_run} runs not run yet")
        return "\n".join(lines)


def binomial_interval(
    events: int, trials: int, confidence: float = 0.95, side: IntervalSide = "two-sided"
) -> tuple[float, float]:
    """The exact (Clopper-Pearson) confidence interval of a binomial probability.

    Two-sided: ``[B(a/2; k, n-k+1), B(1-a/2; k+1, n-k)]`` with ``B`` the beta quantile
    and ``a = 1 - confidence``, 0 and 1 at the ends (``k = 0``: the upper end is
    ``1 - (a/2)^(1/n)``); one-sided intervals put all of ``a`` on their one end. The
    same as ``scipy.stats.binomtest(k, n).proportion_ci(confidence, method="exact")``.

    Raises:
        AnalysisError: ``trials`` < 1, ``events`` outside ``0..trials``, a confidence not
            strictly between 0 and 1, or an unknown side.
    """
    from scipy.stats import beta

    if trials < 1 or not 0 <= events <= trials:
        raise AnalysisError(
            f"a binomial interval needs 0 <= events <= trials and trials >= 1; got "
            f"{events} events of {trials} trials."
        )
    if not 0.0 < confidence < 1.0:
        raise AnalysisError(f"confidence={confidence!r} must be strictly between 0 and 1.")
    if side not in ("two-sided", "upper", "lower"):
        raise AnalysisError(f"side={side!r}; use 'two-sided', 'upper' or 'lower'.")
    alpha = 1.0 - confidence
    tail = alpha / 2 if side == "two-sided" else alpha
    low = (
        0.0
        if events == 0 or side == "upper"
        else float(beta.ppf(tail, events, trials - events + 1))
    )
    high = (
        1.0
        if events == trials or side == "lower"
        else float(beta.isf(tail, events + 1, trials - events))
    )
    return low, high


def failure_probability(
    runs: RunsLike,
    predicate: Callable[[pd.DataFrame], Any],
    *,
    how: Reduction = "last",
    channels: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    side: IntervalSide = "two-sided",
    report: str | None = None,
    kind: str | None = None,
) -> Probability:
    """The fraction of ok runs that meet ``predicate``, with its exact confidence interval.

    Args:
        runs: The sweep (its Results, directory or DataFrame), or one row per run as
            :func:`~gmat_sweep.analysis.per_run` returns it.
        predicate: Called once with the ok runs' rows (one per run: the channels
            reduced by ``how``, and the ``param:`` columns), it returns one truth
            value per row, e.g. ``lambda runs: runs["Sat.Earth.Altitude"] < 600``.
            A comparison with NaN (an ok run with no value) is False; return a
            nullable boolean with ``<NA>`` for such runs to have them refused instead.
        how, channels, report, kind: What :func:`per_run` keeps of each run.
        confidence, side: The interval (``"upper"``: a one-sided bound from above,
            for "the probability is at most ...").

    Raises:
        AnalysisError: no run ended ok; the predicate returned a wrong number of
            values, or missing ones (saying how many).
    """
    import os

    import pandas as pd

    if isinstance(runs, (str, os.PathLike)):
        runs = Results(Path(runs))  # read the manifest once
    frame = runs if isinstance(runs, pd.DataFrame) and _is_per_run(runs) else None
    if frame is None:
        frame = per_run(runs, how, channels, report=report, kind=kind)
    status = frame[STATUS_COLUMN]
    ok = frame[status == "ok"]
    not_ok = {str(s): int(n) for s, n in status[status != "ok"].value_counts().items() if n}
    if ok.empty:
        raise AnalysisError(
            f"no run ended ok, so there is no probability to estimate (not ok: {not_ok})."
        )
    met = _truth(predicate(ok), len(ok))
    events, trials = int(met.sum()), len(ok)
    low, high = binomial_interval(events, trials, confidence, side)
    excluded = sum(not_ok.values())
    worst = binomial_interval(events + excluded, trials + excluded, confidence, side)[1]
    return Probability(
        events=events,
        trials=trials,
        low=low,
        high=high,
        confidence=confidence,
        side=side,
        not_ok=not_ok,
        not_run=_not_run(runs),
        worst_case_high=worst if excluded else high,
    )


def _is_per_run(runs: Any) -> bool:
    import pandas as pd

    return (
        isinstance(runs, pd.DataFrame)
        and runs.index.nlevels == 1
        and runs.index.name == "run_id"
        and STATUS_COLUMN in runs.columns
    )


def _truth(result: Any, rows: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """The predicate's answer as booleans, refusing missing answers."""
    import pandas as pd

    if isinstance(result, (pd.Series, pd.Index)):
        values = result.array
    else:
        values = pd.array(np.atleast_1d(np.asarray(result)))
    if len(values) != rows:
        raise AnalysisError(
            f"the predicate returned {len(values)} values for {rows} runs; return one "
            "truth value per row of the frame it is given."
        )
    missing = int(pd.isna(values).sum())
    if not pd.api.types.is_bool_dtype(values.dtype) and missing < rows:
        raise AnalysisError(
            f"the predicate returned {values.dtype} values, not truth values; return a "
            "comparison such as runs['Sat.Earth.Altitude'] < 600."
        )
    if missing:
        raise AnalysisError(
            f"the predicate gave no answer (NA) for {missing} of the {rows} ok runs; decide "
            "what they count as (e.g. .fillna(True)) and return plain booleans."
        )
    return np.asarray(values, dtype=bool)


def _not_run(runs: Any) -> int:
    """Runs of the sweep with no committed attempt (0 when ``runs`` has no manifest)."""
    if not isinstance(runs, Results):
        return 0
    codes = np.frombuffer(runs.manifest.status_codes(), dtype=np.uint8)
    return int(np.count_nonzero(codes == 0))
