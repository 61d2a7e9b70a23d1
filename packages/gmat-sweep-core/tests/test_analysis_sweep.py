"""``gmat_sweep.analysis`` on real sweeps run on the stand-in GMAT.

Every statistic read batch by batch from a sweep directory is compared with the same
statistic computed with pandas/numpy from the sweep's whole DataFrame; runs that did
not end ok are kept out of the values and reported.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pandas.testing import assert_frame_equal, assert_series_equal

from gmat_sweep import LocalPool, Results, Sweep, analysis, load_results, sweep
from gmat_sweep.analysis import source as analysis_source
from gmat_sweep.cli import main
from gmat_sweep.errors import AnalysisError
from gmat_sweep.testing import FakeGmatRule, kit_script, make_fake_gmat_install

SCRIPT = kit_script()
ALT = "Sat.Earth.Altitude"
FAILING = (7111.0, 7222.0)  # the stand-in fails the runs with these SMAs
# 16 runs: SMAs spread out, half coasting 600 s (11 rows), half 1200 s (21 rows).
TABLE = pd.DataFrame(
    {
        "Sat.SMA": [7000.0 + 37.5 * i for i in range(14)] + list(FAILING),
        "Coast": [600, 1200] * 8,
    }
).sample(frac=1.0, random_state=5, ignore_index=True)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The sweep of TABLE (two runs failing), and the same with postprocess="extremes"."""
    if os.environ.get("GMAT_ROOT"):
        pytest.skip("needs the stand-in GMAT's failure knob")
    base = tmp_path_factory.mktemp("analysis")
    rules = [FakeGmatRule(when={"Sat.SMA": sma}, action="fail") for sma in FAILING]
    with pytest.MonkeyPatch.context() as patch, LocalPool(2) as pool:
        patch.setenv("GMAT_ROOT", str(make_fake_gmat_install(base / "GMAT", rules=rules)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "14/16 ok, 2 failed ..."
            sweep(SCRIPT, samples=TABLE, backend=pool, out=base / "full", lazy=True)
            sweep(
                SCRIPT,
                samples=TABLE,
                backend=pool,
                out=base / "extremes",
                postprocess="extremes",
                lazy=True,
            )
        yield base / "full", base / "extremes"


@pytest.fixture(scope="module")
def frame(swept: tuple[Path, Path]) -> pd.DataFrame:
    return load_results(swept[0])


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["__status"] == "ok"]


def test_bands_are_numpy_quantiles_of_the_ok_runs_at_each_epoch(
    swept: tuple[Path, Path], frame: pd.DataFrame
) -> None:
    q = (0.0, 0.01, 0.5, 0.9, 1.0)
    bands = analysis.bands(swept[0], [ALT, "Sat.SMA"], q)
    ok = _ok(frame)
    epochs = ok.index.get_level_values("time").unique().sort_values()
    assert bands.index.equals(pd.DatetimeIndex(epochs, name="time"))
    assert list(bands.columns.names) == ["channel", "stat"]
    assert list(bands[ALT].columns) == ["count", "0%", "1%", "50%", "90%", "100%"]
    for epoch in epochs:
        at = ok.xs(epoch, level="time")
        row = bands.loc[epoch]
        assert row[(ALT, "count")] == len(at)
        expected = np.quantile(at[ALT].to_numpy(), q)
        np.testing.assert_array_equal(row[ALT].iloc[1:].to_numpy(dtype=float), expected)
    # After 600 s only the ok runs that coast 1200 s have rows; no failed run is in a band.
    ok_runs = ok.groupby(level="run_id").size()
    assert bands[(ALT, "count")].max() == len(ok_runs) == 14
    assert bands[(ALT, "count")].iloc[-1] == int((ok_runs == 21).sum())
    assert bands[(ALT, "count")].dtype == np.int64


def test_bands_of_the_directory_the_dataframe_and_in_small_slabs_are_equal(
    swept: tuple[Path, Path], frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = analysis.bands(swept[0])
    assert sorted(whole.columns.get_level_values("channel").unique()) == sorted(
        c for c in frame.columns if c != "__status"
    )
    assert_frame_equal(analysis.bands(frame), whole, check_exact=True)
    assert_frame_equal(analysis.bands(Results(swept[0])), whole, check_exact=True)
    # A few epochs per slab, read in batches of 7 rows: many passes, the same bands.
    monkeypatch.setattr(analysis_source, "BATCH_ROWS", 7)
    small = analysis.bands(swept[0], max_bytes=32 * 7 * 40)
    assert_frame_equal(small, whole, check_exact=True)


def test_per_run_reductions_match_pandas_on_the_dataframe(
    swept: tuple[Path, Path], frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analysis_source, "BATCH_ROWS", 5)  # runs split across batches
    channels = [c for c in frame.columns if c != "__status"]
    grouped = _ok(frame)[channels].groupby(level="run_id")
    expected = {
        "last": grouped.tail(1).droplevel("time"),
        "first": grouped.head(1).droplevel("time"),
        "min": grouped.min(),
        "max": grouped.max(),
        "mean": grouped.mean(),
    }
    for how, values in expected.items():
        result = analysis.per_run(swept[0], how, with_parameters=False)  # type: ignore[arg-type]
        assert result.index.tolist() == list(range(16))
        ok = result[result["__status"] == "ok"][channels]
        assert_frame_equal(ok, values, check_exact=how != "mean", rtol=1e-14)
    assert_frame_equal(
        analysis.final(frame), analysis.final(swept[0], with_parameters=False), check_exact=True
    )


def test_failed_runs_are_rows_of_nan_with_their_status_and_parameters(
    swept: tuple[Path, Path],
) -> None:
    final = analysis.final(swept[0], ALT)
    assert list(final.columns) == [ALT, "__status", "param:Sat.SMA", "param:Coast"]
    failed = final[final["__status"] == "failed"]
    assert sorted(failed["param:Sat.SMA"]) == list(FAILING)
    assert failed[ALT].isna().all() and final[final["__status"] == "ok"][ALT].notna().all()
    # The parameters are the table's rows, run by run.
    assert final["param:Sat.SMA"].tolist() == TABLE["Sat.SMA"].tolist()
    assert final["param:Coast"].tolist() == TABLE["Coast"].tolist()
    params = analysis.parameters(swept[0])
    assert list(params.columns) == ["Sat.SMA", "Coast"] and len(params) == 16
    # The requirement statistics refuse the failed runs' NaN until told what they mean.
    with pytest.raises(AnalysisError, match="2 of the 16 values are NaN"):
        analysis.tolerance_bound(final[ALT], 0.5, 0.5)
    bound = analysis.tolerance_bound(final[ALT], 0.5, 0.5, nan="omit")
    assert bound.n == 14 and bound.omitted == 2


def test_a_summary_without_epochs_is_read_by_position(swept: tuple[Path, Path]) -> None:
    full, summary = swept
    final = analysis.final(summary)
    assert f"{ALT}.min" in final.columns and "__status" in final.columns
    minimum = analysis.per_run(full, "min", ALT, with_parameters=False)[ALT]
    assert_series_equal(final[f"{ALT}.min"], minimum, check_names=False, check_exact=True)
    last = analysis.final(full, ALT, with_parameters=False)[ALT]
    assert_series_equal(final[f"{ALT}.final"], last, check_names=False, check_exact=True)
    bands = analysis.bands(summary, f"{ALT}.max", q=(0.5,))
    assert bands.index.tolist() == [0] and str(bands.index.dtype) == "Int64"
    assert bands.iloc[0][(f"{ALT}.max", "50%")] == np.median(final[f"{ALT}.max"].dropna())


def test_failure_probability_and_convergence_of_a_sweep(
    swept: tuple[Path, Path], frame: pd.DataFrame
) -> None:
    last = _ok(frame).groupby(level="run_id").tail(1)[ALT]
    threshold = float(last.median())
    result = analysis.failure_probability(swept[0], lambda r: r[ALT] < threshold)
    assert (result.events, result.trials) == (int((last < threshold).sum()), 14)
    assert result.not_ok == {"failed": 2} and result.not_run == 0
    assert result.low < result.estimate < result.high < result.worst_case_high
    table = analysis.convergence(swept[0], ALT)
    assert table.index.tolist() == list(range(16)) and table["n"].iloc[-1] == 14
    assert table["mean"].iloc[-1] == pytest.approx(last.mean(), rel=1e-13)
    assert table["std"].iloc[-1] == pytest.approx(last.std(), rel=1e-9)
    failed = table.index[table["value"].isna()]
    assert [int(table.loc[r, "n"]) for r in failed] == [
        int(table["n"].shift(fill_value=0).loc[r]) for r in failed
    ]


def test_unknown_channels_and_outputs_are_refused_with_the_names_there_are(
    swept: tuple[Path, Path],
) -> None:
    with pytest.raises(AnalysisError, match="did you mean 'Sat.Earth.Altitude'") as caught:
        analysis.bands(swept[0], "Sat.Earth.Altitud")
    assert "Its channels: Sat.ElapsedSecs" in str(caught.value)
    with pytest.raises(AnalysisError, match="quantiles must be in"):
        analysis.bands(swept[0], ALT, q=(99,))
    with pytest.raises(AnalysisError, match="indexed \\(run_id, time\\)"):
        analysis.bands(pd.DataFrame({"x": [1.0]}))


def test_cli_stats_prints_the_summary_and_the_bound(swept: tuple[Path, Path]) -> None:
    out = str(swept[0])
    runner = CliRunner()
    refused = runner.invoke(main, ["stats", out, ALT])
    assert refused.exit_code == 2
    assert "runs:        14 ok, 2 failed" in refused.output
    assert "2 of the 16 values are NaN" in refused.output and "--nan omit|worst" in refused.output
    too_few = runner.invoke(main, ["stats", out, ALT, "--nan", "omit"])
    assert too_few.exit_code == 2 and "needs at least 299 values; there are 14" in too_few.output
    done = runner.invoke(
        main,
        ["stats", out, ALT, "--nan", "omit", "--coverage", "0.8", "--confidence", "0.9",
         "--reduce", "min"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    minimum = analysis.per_run(out, "min", ALT)[ALT]
    bound = analysis.tolerance_bound(minimum, 0.8, 0.9, nan="omit")
    assert str(bound) in done.output and "its minimum in each run" in done.output
    assert f"min {minimum.min():.10g}" in done.output
    missing = runner.invoke(main, ["stats", out, "Nope"])
    assert missing.exit_code == 2 and "'Nope' is not a numeric channel" in missing.output


def test_runs_rerun_by_resume_count_with_their_accepted_attempt(
    swept: tuple[Path, Path], gmat: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "resumed"
    shutil.copytree(swept[0], copy)
    Sweep.from_manifest(copy, backend_options={"workers": 2}).resume(lazy=True)
    frame = load_results(copy)
    assert (frame["__status"] == "ok").all()
    final = analysis.final(copy, ALT)
    assert (final["__status"] == "ok").all() and final[ALT].notna().all()
    rerun = final[final["param:Sat.SMA"].isin(FAILING)]
    assert len(rerun) == 2
    assert all(Results(copy).manifest.attempts_of(int(r)) == 2 for r in rerun.index)
    last = frame.groupby(level="run_id").tail(1)[ALT].droplevel("time")
    assert_series_equal(final[ALT], last, check_exact=True)
    assert (analysis.bands(copy, ALT)[(ALT, "count")].iloc[0]) == 16
