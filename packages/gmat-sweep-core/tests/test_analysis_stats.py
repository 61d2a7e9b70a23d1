"""The statistics of ``gmat_sweep.analysis`` against closed forms (no GMAT needed).

Wilks' sample sizes against their closed forms and the published tables, tolerance
bounds on known data (and their coverage by simulation), Clopper-Pearson intervals
against their closed forms and scipy's binomtest, grouped quantiles against numpy,
running statistics against numpy on every prefix.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from gmat_sweep import analysis
from gmat_sweep.analysis.quantiles import grouped_quantiles
from gmat_sweep.errors import AnalysisError, GmatSweepError, NotEnoughRunsError

# -- Wilks: how many runs ----------------------------------------------------------


def _one_sided_first_order(coverage: float, confidence: float) -> int:
    """1 - p^n >= c  <=>  n >= ln(1 - c) / ln(p)."""
    return math.ceil(math.log(1 - confidence) / math.log(coverage))


def _two_sided_first_order(coverage: float, confidence: float) -> int:
    """The smallest n with 1 - n p^(n-1) + (n-1) p^n >= c (coverage of [min, max])."""
    n = 2
    while 1 - n * coverage ** (n - 1) + (n - 1) * coverage**n < confidence:
        n += 1
    return n


def test_the_classic_95_95_sample_sizes() -> None:
    assert analysis.runs_needed(0.95, 0.95) == 59
    assert analysis.runs_needed(0.95, 0.95, side="lower") == 59
    assert analysis.runs_needed(0.95, 0.95, side="two-sided") == 93


@pytest.mark.parametrize(
    ("coverage", "confidence"),
    [(0.95, 0.95), (0.99, 0.95), (0.95, 0.99), (0.99, 0.99), (0.9, 0.9), (0.999, 0.95)],
)
def test_first_order_sizes_match_their_closed_forms(coverage: float, confidence: float) -> None:
    assert analysis.runs_needed(coverage, confidence) == _one_sided_first_order(
        coverage, confidence
    )
    assert analysis.runs_needed(coverage, confidence, "two-sided") == _two_sided_first_order(
        coverage, confidence
    )


@pytest.mark.parametrize(
    ("side", "order", "n"),
    # Published 95/95 tables (e.g. Wilks 1941; the GRS method's 59/93/124, 93/153/208).
    [("upper", 2, 93), ("upper", 3, 124), ("two-sided", 2, 153), ("two-sided", 3, 208)],
)
def test_higher_orders_match_the_published_tables(side: str, order: int, n: int) -> None:
    assert analysis.runs_needed(0.95, 0.95, side, order) == n  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {"coverage": 1.0, "confidence": 0.95},
        {"coverage": 0.95, "confidence": 0.0},
        {"coverage": 0.95, "confidence": 0.95, "side": "both"},
        {"coverage": 0.95, "confidence": 0.95, "order": 0},
    ],
)
def test_runs_needed_refuses_what_has_no_answer(bad: dict[str, object]) -> None:
    with pytest.raises(AnalysisError) as caught:
        analysis.runs_needed(**bad)  # type: ignore[arg-type]
    assert isinstance(caught.value, GmatSweepError) and isinstance(caught.value, ValueError)


# -- Wilks: the bound ---------------------------------------------------------------


def test_59_values_give_their_maximum_as_the_95_95_upper_bound() -> None:
    values = np.random.default_rng(1).permutation(np.arange(59.0))
    bound = analysis.tolerance_bound(values, 0.95, 0.95)
    assert (bound.value, bound.order, bound.n, bound.side) == (58.0, 1, 59, "upper")
    assert bound.lower is None
    assert bound.achieved_confidence == pytest.approx(1 - 0.95**59, rel=1e-12)
    assert "order 1" in str(bound) and "1st largest of 59" in str(bound)
    lower = analysis.tolerance_bound(values, 0.95, 0.95, "lower")
    assert lower.value == 0.0 and lower.upper is None


def test_more_values_allow_a_higher_order_and_the_order_can_be_chosen() -> None:
    values = np.arange(93.0)
    assert analysis.tolerance_bound(values, 0.95, 0.95).order == 2  # 93 = runs for order 2
    assert analysis.tolerance_bound(values, 0.95, 0.95).value == 91.0  # the 2nd largest
    assert analysis.tolerance_bound(values, 0.95, 0.95, "lower").value == 1.0
    first = analysis.tolerance_bound(values, 0.95, 0.95, order=1)
    assert first.value == 92.0 and first.achieved_confidence > 0.99
    both = analysis.tolerance_bound(values, 0.95, 0.95, "two-sided")
    assert (both.value, both.order) == ((0.0, 92.0), 1)
    # The default is the highest order that still has the confidence asked for.
    for n in (59, 100, 124, 500):
        bound = analysis.tolerance_bound(np.arange(float(n)), 0.95, 0.95)
        assert bound.achieved_confidence >= 0.95
        assert analysis.runs_needed(0.95, 0.95, order=bound.order + 1) > n


def test_too_few_values_are_refused_saying_how_many_are_needed() -> None:
    with pytest.raises(NotEnoughRunsError) as caught:
        analysis.tolerance_bound(np.arange(58.0), 0.95, 0.95)
    assert (caught.value.needed, caught.value.got) == (59, 58)
    assert "at least 59 values; there are 58" in str(caught.value)
    assert "Run 1 more" in str(caught.value)
    with pytest.raises(NotEnoughRunsError, match="at least 153 values"):
        analysis.tolerance_bound(np.arange(100.0), 0.95, 0.95, "two-sided", order=2)


def test_nan_values_are_never_dropped_silently() -> None:
    values = np.r_[np.arange(59.0), [np.nan] * 3]
    with pytest.raises(AnalysisError, match="3 of the 62 values are NaN") as caught:
        analysis.tolerance_bound(values, 0.95, 0.95)
    assert "nan='omit'" in str(caught.value) and "nan='worst'" in str(caught.value)
    omitted = analysis.tolerance_bound(values, 0.95, 0.95, nan="omit")
    assert (omitted.n, omitted.omitted, omitted.value) == (59, 3, 58.0)
    assert "3 NaN values left out" in str(omitted)
    # Worst case: a failed run is beyond the bound; with 62 values (order 1), the bound is
    # the largest, a failed run: infinite.
    worst = analysis.tolerance_bound(values, 0.95, 0.95, nan="worst")
    assert (worst.n, worst.worst, worst.value) == (62, 3, math.inf)
    low = analysis.tolerance_bound(values, 0.95, 0.95, "lower", nan="worst")
    assert low.value == -math.inf
    # With enough good runs, one failed run only moves the bound one order statistic.
    many = np.r_[np.arange(200.0), [np.nan]]
    bound = analysis.tolerance_bound(many, 0.95, 0.95, nan="worst")
    plain = analysis.tolerance_bound(np.r_[np.arange(200.0), [np.inf]], 0.95, 0.95)
    assert bound.order >= 2 and (bound.n, bound.value) == (201, 201.0 - bound.order)
    assert (plain.order, plain.value) == (bound.order, bound.value)
    with pytest.raises(AnalysisError, match="cannot be beyond both ends"):
        analysis.tolerance_bound(values, 0.95, 0.95, "two-sided", nan="worst")


def test_the_bound_covers_what_it_claims_by_simulation() -> None:
    # 4000 samples of 59 uniforms: the maximum is above the 0.95 quantile (0.95) with
    # probability 1 - 0.95^59 = 0.9515; the sample frequency lies within 4 sigma of it.
    draws = np.random.default_rng(2026).random((4000, 59))
    bounds = np.array([analysis.tolerance_bound(row, 0.95, 0.95).value for row in draws[:50]])
    assert np.array_equal(bounds, draws[:50].max(axis=1))
    hit = float(np.mean(draws.max(axis=1) >= 0.95))
    p = 1 - 0.95**59
    assert abs(hit - p) < 4 * math.sqrt(p * (1 - p) / 4000)


# -- binomial intervals -----------------------------------------------------------


@pytest.mark.parametrize("n", [1, 10, 59, 1000])
def test_zero_events_have_the_closed_form_upper_end(n: int) -> None:
    low, high = analysis.binomial_interval(0, n, 0.95)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-10)
    low, high = analysis.binomial_interval(0, n, 0.95, side="upper")
    assert low == 0.0 and high == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-10)
    low, high = analysis.binomial_interval(n, n, 0.95)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / n), rel=1e-10)


@pytest.mark.parametrize(("k", "n"), [(5, 10), (1, 59), (3, 100), (42, 97), (999, 1000)])
def test_intervals_match_scipy_binomtest_exact(k: int, n: int) -> None:
    for side, alternative in (("two-sided", "two-sided"), ("upper", "less"), ("lower", "greater")):
        expected = binomtest(k, n, alternative=alternative).proportion_ci(0.95, method="exact")
        low, high = analysis.binomial_interval(k, n, 0.95, side)  # type: ignore[arg-type]
        assert low == pytest.approx(expected.low, rel=1e-9, abs=1e-15)
        assert high == pytest.approx(expected.high, rel=1e-9, abs=1e-15)
    # Symmetry: the interval of k of n mirrors that of n - k.
    low, high = analysis.binomial_interval(k, n)
    mirror_low, mirror_high = analysis.binomial_interval(n - k, n)
    assert low == pytest.approx(1 - mirror_high, rel=1e-9)
    assert high == pytest.approx(1 - mirror_low, rel=1e-9)


def test_the_textbook_interval_of_5_of_10() -> None:
    low, high = analysis.binomial_interval(5, 10, 0.95)
    assert (round(low, 4), round(high, 4)) == (0.1871, 0.8129)


def test_binomial_interval_refuses_impossible_counts() -> None:
    with pytest.raises(AnalysisError, match="0 <= events <= trials"):
        analysis.binomial_interval(3, 2)
    with pytest.raises(AnalysisError, match="trials >= 1"):
        analysis.binomial_interval(0, 0)


def _per_run(values: list[float], statuses: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"miss": values, "__status": pd.array(statuses, dtype="str")},
        index=pd.Index(range(len(values)), name="run_id"),
    )


def test_failure_probability_counts_only_ok_runs_and_reports_the_others() -> None:
    runs = _per_run(
        [1.0, 5.0, 7.0, np.nan, 2.0, np.nan, 9.0],
        ["ok", "ok", "ok", "failed", "ok", "crashed", "ok"],
    )
    result = analysis.failure_probability(runs, lambda r: r["miss"] > 4)
    assert (result.events, result.trials) == (3, 5)
    assert result.not_ok == {"failed": 1, "crashed": 1}
    assert result.estimate == 0.6
    assert (result.low, result.high) == analysis.binomial_interval(3, 5)
    assert result.worst_case_high == analysis.binomial_interval(5, 7)[1]
    assert "not counted: 1 crashed, 1 failed" in str(result)
    upper = analysis.failure_probability(runs, lambda r: r["miss"] > 4, side="upper")
    assert upper.low == 0.0 and upper.high == analysis.binomial_interval(3, 5, side="upper")[1]


def test_failure_probability_refuses_missing_or_misshapen_answers() -> None:
    runs = _per_run([1.0, 5.0, 7.0], ["ok"] * 3)
    with pytest.raises(AnalysisError, match="no answer \\(NA\\) for 1 of the 3"):
        analysis.failure_probability(runs, lambda r: pd.array([True, None, False], dtype="boolean"))
    with pytest.raises(AnalysisError, match="returned 2 values for 3 runs"):
        analysis.failure_probability(runs, lambda r: [True, False])
    with pytest.raises(AnalysisError, match="float64 values, not truth values"):
        analysis.failure_probability(runs, lambda r: r["miss"])  # forgot the comparison
    with pytest.raises(AnalysisError, match="how='median' is not a reduction"):
        analysis.per_run(pd.DataFrame(), "median")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="no run ended ok"):
        analysis.failure_probability(_per_run([np.nan], ["failed"]), lambda r: r["miss"] > 0)


# -- grouped quantiles, running statistics -----------------------------------------


def test_grouped_quantiles_equal_numpy_per_group() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 40, 3000).astype(np.int64)
    values = rng.normal(size=3000).round(1)  # ties
    values[rng.integers(0, 3000, 50)] = np.nan
    groups = np.arange(-1, 41, dtype=np.int64)  # two groups without values
    q = [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0]
    out = grouped_quantiles(keys, values, q, groups)
    for i, key in enumerate(groups):
        chosen = values[(keys == key) & ~np.isnan(values)]
        assert out[i, 0] == len(chosen)
        if len(chosen):
            np.testing.assert_array_equal(out[i, 1:], np.quantile(chosen, q))
        else:
            assert np.isnan(out[i, 1:]).all()


def test_quantile_labels_read_like_describe() -> None:
    labels = [analysis.quantile_label(q) for q in (0.01, 0.5, 0.99, 0.999, 0.0, 1.0, 0.29)]
    assert labels == ["1%", "50%", "99%", "99.9%", "0%", "100%", "29%"]


def test_convergence_of_a_series_matches_numpy_on_every_prefix() -> None:
    rng = np.random.default_rng(3)
    x = 6678.0 + rng.normal(scale=0.5, size=40)  # a large offset: sums must stay accurate
    x[[4, 17]] = np.nan  # runs that did not end ok
    series = pd.Series(x, index=pd.Index(range(40), name="run_id"))
    table = analysis.convergence(series)
    assert list(table.columns) == ["value", "n", "mean", "std", "sem"]
    for i in range(40):
        seen = x[: i + 1][~np.isnan(x[: i + 1])]
        assert table["n"].iloc[i] == len(seen)
        assert table["mean"].iloc[i] == pytest.approx(seen.mean(), rel=1e-13)
        if len(seen) > 1:
            std = np.std(seen, ddof=1)
            assert table["std"].iloc[i] == pytest.approx(std, rel=1e-8)
            assert table["sem"].iloc[i] == pytest.approx(std / math.sqrt(len(seen)), rel=1e-8)
        else:
            assert np.isnan(table["std"].iloc[i])
    assert table["n"].iloc[4] == table["n"].iloc[3] and np.isnan(table["value"].iloc[4])
    with pytest.raises(AnalysisError, match="a Series is already the metric"):
        analysis.convergence(series, "miss")


# -- the package ----------------------------------------------------------------------


def test_the_package_imports_lazily_and_its_names_are_functions() -> None:
    code = (
        "import sys, gmat_sweep\n"
        "from gmat_sweep import analysis\n"
        "assert gmat_sweep.analysis is analysis\n"
        "heavy = [m for m in ('numpy', 'scipy', 'pandas', 'pyarrow') if m in sys.modules]\n"
        "import gmat_sweep.analysis.quantiles, gmat_sweep.analysis.running\n"
        "assert callable(analysis.bands) and callable(analysis.convergence)\n"
        "print(heavy, sorted(analysis.__all__) == sorted(analysis._LAZY))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] True"
    assert "analysis" in dir(__import__("gmat_sweep"))


def test_bands_warn_when_the_runs_epochs_do_not_line_up() -> None:
    # Four ok runs whose rows fall at different times (a variable-step propagator), and a
    # failed run's marker row: most epochs hold one run, and the failed run none.
    times = [pd.Timestamp("2026-01-01") + pd.Timedelta(seconds=s) for s in range(8)]
    rows = [(run, times[run + k]) for run in range(4) for k in (0, 4)]
    index = pd.MultiIndex.from_tuples([*rows, (4, pd.NaT)], names=["run_id", "time"])
    frame = pd.DataFrame(
        {
            "alt": [float(run * 10 + k) for run in range(4) for k in (0, 4)] + [np.nan],
            "__status": pd.array(["ok"] * 8 + ["failed"], dtype="str"),
        },
        index=index,
    )
    with pytest.warns(UserWarning, match="epochs do not line up"):
        bands = analysis.bands(frame, "alt", q=(0.5,))
    assert bands[("alt", "count")].tolist() == [1, 1, 1, 1, 1, 1, 1, 1]
    assert bands[("alt", "50%")].tolist() == [0.0, 10.0, 20.0, 30.0, 4.0, 14.0, 24.0, 34.0]
