"""Non-parametric tolerance bounds (Wilks' order statistics) and the runs they need.

A one-sided upper bound of coverage ``p`` and confidence ``c`` is an order statistic
``X(n - m + 1)`` of ``n`` values (``m = 1``: the largest; ``m`` is the bound's *order*)
such that, whatever the distribution of the values (continuous), the probability that at
least a fraction ``p`` of it lies below the bound is at least ``c``. The fraction that
does is Beta-distributed, which makes that probability a binomial tail:

    P(at least m of n values above the p-quantile) = binom.sf(m - 1, n, 1 - p) >= c

A lower bound is ``X(m)``, by symmetry. A two-sided interval ``[X(m), X(n - m + 1)]``
covers ``p`` with probability ``binom.sf(2m - 1, n, 1 - p)``. For ``p = c = 0.95`` the
first-order bounds need 59 values (one-sided) and 93 (two-sided), the numbers of Wilks
(1941). Everything here is computed exactly with :data:`scipy.stats.binom`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gmat_sweep.errors import AnalysisError, NotEnoughRunsError

__all__ = ["NanPolicy", "Side", "ToleranceBound", "runs_needed", "tolerance_bound"]

Side = Literal["upper", "lower", "two-sided"]
#: What to do with NaN values (runs that did not end ok): refuse, leave them out, or
#: count them as beyond the bound (the worst case: a failed run fails the requirement).
NanPolicy = Literal["raise", "omit", "worst"]
_SIDES = ("upper", "lower", "two-sided")


@dataclass(frozen=True)
class ToleranceBound:
    """A distribution-free tolerance bound and how it was obtained.

    Attributes:
        side: ``"upper"``, ``"lower"`` or ``"two-sided"``.
        lower: The lower bound (None for an upper bound).
        upper: The upper bound (None for a lower bound).
        coverage: The fraction of the population the bound covers (``p``).
        confidence: The confidence asked for (``c``).
        achieved_confidence: The confidence this ``n`` and order give (>= confidence).
        order: ``m``: the bound is the m-th largest value (upper), the m-th smallest
            (lower), or both (two-sided).
        n: How many values it was computed from.
        omitted: NaN values left out (``nan="omit"``).
        worst: NaN values counted as beyond the bound (``nan="worst"``), part of ``n``.
    """

    side: Side
    lower: float | None
    upper: float | None
    coverage: float
    confidence: float
    achieved_confidence: float
    order: int
    n: int
    omitted: int = 0
    worst: int = 0

    @property
    def value(self) -> float | tuple[float, float]:
        """The bound: a number for one side, ``(lower, upper)`` for two sides."""
        if self.side == "upper":
            assert self.upper is not None
            return self.upper
        if self.side == "lower":
            assert self.lower is not None
            return self.lower
        assert self.lower is not None and self.upper is not None
        return (self.lower, self.upper)

    def __str__(self) -> str:
        value = self.value
        shown = (
            f"[{value[0]:.10g}, {value[1]:.10g}]" if isinstance(value, tuple) else f"{value:.10g}"
        )
        which = {"upper": "largest", "lower": "smallest", "two-sided": "smallest and largest"}
        extra = f"; {self.omitted} NaN values left out" if self.omitted else ""
        extra += f"; {self.worst} NaN values counted as beyond it" if self.worst else ""
        return (
            f"{self.side} tolerance bound, {self.coverage:.6g} coverage at "
            f"{self.confidence:.6g} confidence: {shown} (order {self.order}: the "
            f"{_ordinal(self.order)} {which[self.side]} of {self.n} values; confidence "
            f"achieved {self.achieved_confidence:.4f}{extra})"
        )


def runs_needed(coverage: float, confidence: float, side: Side = "upper", order: int = 1) -> int:
    """The fewest values for a tolerance bound of this coverage, confidence and order.

    ``runs_needed(0.95, 0.95)`` is 59; ``runs_needed(0.95, 0.95, "two-sided")`` is 93.

    Raises:
        AnalysisError: coverage or confidence not strictly between 0 and 1, an unknown
            side, or an order below 1.
    """
    _check(coverage, confidence, side, order)
    beyond = _beyond(side, order)
    if _confidence(beyond, beyond, coverage) >= confidence:
        return beyond
    low, high = beyond, beyond * 2
    while _confidence(high, beyond, coverage) < confidence:  # confidence grows with n
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if _confidence(middle, beyond, coverage) >= confidence:
            high = middle
        else:
            low = middle
    return high


def tolerance_bound(
    values: Iterable[float] | Any,
    coverage: float = 0.99,
    confidence: float = 0.95,
    side: Side = "upper",
    *,
    order: int | None = None,
    nan: NanPolicy = "raise",
) -> ToleranceBound:
    """A non-parametric (Wilks) tolerance bound of ``values``.

    Args:
        values: One value per run (a Series of :func:`~gmat_sweep.analysis.final`,
            a list, an array).
        coverage: The fraction of the population to bound (``0.99``: the 99th
            percentile, for an upper bound).
        confidence: The probability that the bound covers at least that fraction.
        side: ``"upper"``, ``"lower"`` or ``"two-sided"``.
        order: The order statistic to use (1: the extreme value). Default: the highest
            order these values allow, the least conservative bound that still has the
            confidence asked for.
        nan: NaN values are runs that did not end ok (or lack the channel); they are
            never dropped silently. ``"raise"`` (default) refuses them; ``"omit"``
            leaves them out (the bound is then of the runs that ended ok); ``"worst"``
            counts them as beyond the bound (+inf for an upper, -inf for a lower bound:
            a failed run fails the requirement); refused for two sides.

    Raises:
        NotEnoughRunsError: fewer values than the bound needs (the message says how
            many, and ``needed`` holds it).
        AnalysisError: NaN values with ``nan="raise"`` (the message says how many), or
            a bad coverage, confidence, side, order or nan.
    """
    _check(coverage, confidence, side, 1 if order is None else order)
    if nan not in ("raise", "omit", "worst"):
        raise AnalysisError(f"nan={nan!r}; use 'raise', 'omit' or 'worst'.")
    if hasattr(values, "to_numpy"):  # a Series, also of a nullable dtype (<NA> is NaN)
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
    data = np.asarray(values, dtype=np.float64).ravel()
    missing = int(np.isnan(data).sum())
    omitted = worst = 0
    if missing:
        if nan == "raise":
            raise AnalysisError(
                f"{missing} of the {len(data)} values are NaN (runs that did not end ok, or "
                "with no value). Choose: nan='omit' bounds the other runs only; "
                "nan='worst' counts them as beyond the bound (CLI: --nan omit|worst)."
            )
        if nan == "omit":
            data, omitted = data[~np.isnan(data)], missing
        else:
            if side == "two-sided":
                raise AnalysisError(
                    "nan='worst' needs one side: a NaN value cannot be beyond both ends; "
                    "use side='upper' or 'lower', or nan='omit'."
                )
            data = np.where(np.isnan(data), np.inf if side == "upper" else -np.inf, data)
            worst = missing
    n = len(data)
    m = _order_for(n, coverage, confidence, side, order)
    ordered = np.sort(data)
    lower = float(ordered[m - 1]) if side != "upper" else None
    upper = float(ordered[n - m]) if side != "lower" else None
    return ToleranceBound(
        side=side,
        lower=lower,
        upper=upper,
        coverage=coverage,
        confidence=confidence,
        achieved_confidence=_confidence(n, _beyond(side, m), coverage),
        order=m,
        n=n,
        omitted=omitted,
        worst=worst,
    )


def _order_for(n: int, coverage: float, confidence: float, side: Side, order: int | None) -> int:
    """The order to use: ``order`` if ``n`` values support it, else the highest they do."""
    needed = runs_needed(coverage, confidence, side, order or 1)
    if n < needed:
        raise NotEnoughRunsError(
            f"a {side} tolerance bound of {coverage:.6g} coverage at {confidence:.6g} "
            f"confidence, order {order or 1}, needs at least {needed} values; there are {n}. "
            f"Run {needed - n} more (a Monte Carlo sweep grows with gmat-sweep extend OUT "
            f"--n {needed - n}), or ask for less coverage or confidence.",
            needed=needed,
            got=n,
        )
    if order is not None:
        return order
    from scipy.stats import binom

    per_side = 2 if side == "two-sided" else 1
    orders = np.arange(1, max(1, n // per_side) + 1)
    achieved = binom.sf(per_side * orders - 1, n, 1 - coverage)  # falls as the order grows
    return int(orders[achieved >= confidence].max())


def _beyond(side: Side, order: int) -> int:
    """How many values must lie beyond the covered fraction: m, or 2m for two sides."""
    return 2 * order if side == "two-sided" else order


def _confidence(n: int, beyond: int, coverage: float) -> float:
    """P(at least ``beyond`` of ``n`` values fall outside the ``coverage`` fraction)."""
    from scipy.stats import binom

    return float(binom.sf(beyond - 1, n, 1 - coverage))


def _check(coverage: float, confidence: float, side: str, order: int) -> None:
    for name, value in (("coverage", coverage), ("confidence", confidence)):
        if not (isinstance(value, (int, float)) and 0.0 < float(value) < 1.0):
            raise AnalysisError(f"{name}={value!r} must be strictly between 0 and 1 (e.g. 0.95).")
    if side not in _SIDES:
        raise AnalysisError(f"side={side!r}; use 'upper', 'lower' or 'two-sided'.")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise AnalysisError(f"order={order!r} must be a whole number >= 1 (1: the extreme value).")


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"
