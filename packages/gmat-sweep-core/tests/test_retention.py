"""Retention (keep=, rows=, postprocess=): what a sweep keeps of each run, on the worker.

Every kept DataFrame is compared with the same selection made afterwards from a sweep that
kept everything, so the tests hold on the stand-in and on real GMAT alike.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from gmat_sweep import LocalPool, Results, Sweep, monte_carlo, sweep
from gmat_sweep.errors import ResultsTooLargeError, RetentionError
from gmat_sweep.manifest import MANIFEST_NAME, Manifest
from gmat_sweep.testing import kit_script, make_fake_gmat_install

REAL_GMAT = bool(os.environ.get("GMAT_ROOT"))
SCRIPT = kit_script()
USER_MODULE = "gmat_sweep_test_postprocess"
GRID = {"Sat.SMA": [7000.0, 7100.0, 7200.0]}

POSTPROCESS = '''
import pandas as pd


def lowest(outputs):
    """One row: the lowest altitude and the final SMA of the run."""
    report = outputs["OrbitReport"]
    return {"min_alt": float(report["Sat.Earth.Altitude"].min()),
            "final_sma": float(report["Sat.SMA"].iloc[-1])}


def table(outputs):
    return outputs["OrbitReport"][["Sat.SMA"]].describe().reset_index()


def thinned(outputs):
    report = outputs["OrbitReport"]
    return {"OrbitReport": report.iloc[::10], "ends": report.iloc[[0, -1]][["Sat.SMA"]]}


def picky(outputs):
    if outputs["OrbitReport"]["Sat.SMA"].iloc[0] > 7150:
        raise ValueError("this orbit is too high for the summary")
    return {"ok": 1.0}


def nothing(outputs):
    return 42
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """GMAT for the module, and a user's module of postprocess functions on PYTHONPATH
    (set before any GMAT host starts, as a user's environment would be)."""
    folder = tmp_path_factory.mktemp("site")
    (folder / f"{USER_MODULE}.py").write_text(textwrap.dedent(POSTPROCESS))
    with pytest.MonkeyPatch.context() as patch:
        if not REAL_GMAT:
            patch.setenv("GMAT_ROOT", str(make_fake_gmat_install(folder / "GMAT")))
        patch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
        patch.syspath_prepend(str(folder))
        yield folder


@pytest.fixture(scope="module")
def pool(site: Path) -> Iterator[LocalPool]:
    with LocalPool(2) as p:
        yield p


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory, pool: LocalPool) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("full") / "o"
    return sweep(SCRIPT, grid=GRID, backend=pool, out=out, progress=False)


@pytest.fixture
def user_module(site: Path) -> str:
    return USER_MODULE


def _run(tmp_path: Path, pool: LocalPool, **retention: object) -> pd.DataFrame:
    return sweep(SCRIPT, grid=GRID, backend=pool, out=tmp_path / "o", progress=False, **retention)  # type: ignore[arg-type]


def test_keep_selects_channels_and_keeps_the_time_index(
    full: pd.DataFrame, tmp_path: Path, pool: LocalPool
) -> None:
    kept = _run(tmp_path, pool, keep=["Sat.SMA", "Sat.ECC"])
    assert list(kept.columns) == ["Sat.SMA", "Sat.ECC", "__status"]
    assert_frame_equal(kept, full[["Sat.SMA", "Sat.ECC", "__status"]], check_exact=True)
    header = json.loads((tmp_path / "o" / MANIFEST_NAME).read_text().splitlines()[0])
    assert header["settings"]["retention"]["keep"] == ["Sat.SMA", "Sat.ECC"]


@pytest.mark.parametrize(
    ("rows", "select"),
    [
        ("first", lambda g: g.head(1)),
        ("last", lambda g: g.tail(1)),
        ("every:7", lambda g: g.iloc[::7]),
    ],
)
def test_rows_keeps_the_same_rows_a_selection_afterwards_would(
    full: pd.DataFrame, tmp_path: Path, pool: LocalPool, rows: str, select: object
) -> None:
    kept = _run(tmp_path, pool, rows=rows)
    expected = full.groupby(level="run_id", group_keys=False).apply(select)  # type: ignore[arg-type]
    assert_frame_equal(kept, expected, check_exact=True)
    counts = {r["run_id"]: r["outputs"] for r in Manifest.load(tmp_path / "o").run_entries()}
    per_run = expected.groupby(level="run_id").size()
    assert counts == {r: {"report__OrbitReport": int(per_run[r])} for r in range(3)}


def test_a_postprocess_summary_is_one_row_per_run(
    full: pd.DataFrame, tmp_path: Path, pool: LocalPool, user_module: str
) -> None:
    summary = _run(tmp_path, pool, postprocess=f"{user_module}:lowest")
    assert list(summary.columns) == ["min_alt", "final_sma", "__status"]
    by_run = full.groupby(level="run_id")
    assert summary["min_alt"].tolist() == by_run["Sat.Earth.Altitude"].min().tolist()
    assert summary["final_sma"].tolist() == by_run["Sat.SMA"].last().tolist()
    assert summary.index.get_level_values("time").tolist() == [0, 0, 0]
    parts = Manifest.load(tmp_path / "o").parts
    assert list(parts) == ["summary__lowest"]  # the raw report never left the worker


def test_a_postprocess_may_return_tables_and_a_function_object(
    full: pd.DataFrame, tmp_path: Path, pool: LocalPool, user_module: str
) -> None:
    module = __import__(user_module)
    described = sweep(SCRIPT, grid=GRID, backend=pool, out=tmp_path / "t", progress=False,
                      postprocess=module.table)  # fmt: skip
    assert described["Sat.SMA"].xs(0, level="run_id").tolist() == (
        full.loc[0][["Sat.SMA"]].describe()["Sat.SMA"].tolist()
    )
    header = json.loads((tmp_path / "t" / MANIFEST_NAME).read_text().splitlines()[0])
    assert header["settings"]["retention"]["target"] == f"{user_module}:table"

    sweep(SCRIPT, grid=GRID, backend=pool, out=tmp_path / "m", progress=False,
          postprocess=f"{user_module}:thinned")  # fmt: skip
    results = Results(tmp_path / "m")
    report = results.to_pandas(kind="report")  # a known output name keeps its kind
    expected = full.groupby(level="run_id", group_keys=False).apply(lambda g: g.iloc[::10])
    assert_frame_equal(report, expected, check_exact=True)
    assert results.output_names("summary") == ["ends"]
    assert len(results.to_pandas("ends")) == 6


def test_an_exception_in_postprocess_fails_only_that_run_with_its_traceback(
    tmp_path: Path, pool: LocalPool, user_module: str
) -> None:
    with pytest.warns(UserWarning, match="1 failed"):
        frame = _run(tmp_path, pool, postprocess=f"{user_module}:picky")
    assert frame["__status"].tolist() == ["ok", "ok", "failed"]
    manifest = Manifest.load(tmp_path / "o")
    failed = manifest.latest_entries()[2]
    assert failed["error"]["type"] == "PostprocessError"
    message = failed["error"]["message"]
    assert "Traceback" in message and "too high for the summary" in message
    assert "picky" in message
    assert "too high for the summary" in (tmp_path / "o" / failed["log"]).read_text()


def test_a_postprocess_returning_no_table_fails_the_run_saying_what_it_must_return(
    tmp_path: Path, pool: LocalPool, user_module: str
) -> None:
    with pytest.warns(UserWarning, match="3 failed"):
        _run(tmp_path, pool, postprocess=f"{user_module}:nothing")
    error = Manifest.load(tmp_path / "o").latest_entries()[0]["error"]
    assert "returned int" in error["message"] and "mapping of column to scalar" in error["message"]


def test_a_keep_channel_no_report_adds_is_refused_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(RetentionError, match="'Sat.Typo', which no ReportFile") as caught:
        sweep(SCRIPT, grid=GRID, out=tmp_path / "o", keep=["Sat.SMA", "Sat.Typo"])
    assert "Sat.Earth.Altitude" in str(caught.value)  # the channels it could have named
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "extra",
    [
        "Report OrbitReport Sat.Typo;",  # the Report command writes its own columns
        "Create EphemerisFile Eph;",
        "Target DC;\nEndTarget;",
    ],
)
def test_keep_is_left_to_the_runs_when_the_script_cannot_tell(extra: str) -> None:
    from gmat_sweep.retention import check_keep_against_script, make_retention

    text = SCRIPT.read_text() + "\n" + extra + "\n"
    check_keep_against_script(make_retention(keep=["Sat.Typo"]), text)  # no error
    with pytest.raises(RetentionError, match="no ReportFile"):
        check_keep_against_script(make_retention(keep=["Sat.Typo"]), SCRIPT.read_text())


def test_a_keep_channel_no_output_of_a_run_has_fails_that_run_naming_the_channels() -> None:
    """What each run checks when the script cannot tell (ephemerides, solvers)."""
    from gmat_sweep.retention import apply_retention, make_retention

    report = pd.DataFrame({"Sat.UTCGregorian": [0.0], "Sat.SMA": [7000.0]})
    ephemeris = pd.DataFrame({"Epoch": [0.0], "X": [1.0]})
    outputs = {"report__OrbitReport": report, "ephemeris__Eph": ephemeris}
    kept = apply_retention(make_retention(keep=["X"]), outputs)
    assert list(kept) == ["ephemeris__Eph"] and list(kept["ephemeris__Eph"].columns) == ["X"]
    with pytest.raises(RetentionError, match="'Sat.Typo', which no output") as caught:
        apply_retention(make_retention(keep=["Sat.SMA", "Sat.Typo"]), outputs)
    assert "report OrbitReport: Sat.UTCGregorian, Sat.SMA" in str(caught.value)
    assert "ephemeris Eph: Epoch, X" in str(caught.value)


def test_the_builtin_extremes_summary(full: pd.DataFrame, tmp_path: Path, pool: LocalPool) -> None:
    summary = _run(tmp_path, pool, postprocess="extremes")
    by_run = full.groupby(level="run_id")["Sat.SMA"]
    assert summary["Sat.SMA.min"].tolist() == by_run.min().tolist()
    assert summary["Sat.SMA.max"].tolist() == by_run.max().tolist()
    assert summary["Sat.SMA.final"].tolist() == by_run.last().tolist()


@pytest.mark.parametrize(
    ("retention", "match"),
    [
        ({"rows": "middle"}, "'all', 'first', 'last' or 'every:N'"),
        ({"rows": "every:0"}, "every:N"),
        ({"keep": [""]}, "channel names"),
        ({"keep": []}, "channel names"),
        ({"postprocess": lambda outputs: {}}, "cannot be imported by the workers"),
        ({"postprocess": "no_such_module_xyz:f"}, "cannot import the postprocess"),
        ({"postprocess": "extremez"}, "Did you mean 'extremes'"),
        ({"postprocess": "json:no_such_function"}, "AttributeError"),
        ({"postprocess": "pkg.mod:"}, "is not 'package.module:function'"),
        ({"postprocess": 3}, "takes a function"),
    ],
)
def test_bad_retention_is_refused_before_anything_is_written(
    site: Path, tmp_path: Path, retention: dict[str, object], match: str
) -> None:
    with pytest.raises(RetentionError, match=match):
        sweep(SCRIPT, grid=GRID, out=tmp_path / "o", **retention)  # type: ignore[arg-type]
    assert not (tmp_path / "o").exists()


def test_extend_and_resume_keep_what_the_sweep_recorded(tmp_path: Path, pool: LocalPool) -> None:
    perturb = {"Sat.SMA": ("uniform", 6900, 7300)}
    options = {"backend": pool, "progress": False, "rows": "last", "keep": ["Sat.SMA"]}
    monte_carlo(SCRIPT, 3, perturb, seed=5, out=tmp_path / "small", **options)  # type: ignore[arg-type]
    reopened = Sweep.from_manifest(tmp_path / "small", backend=pool, progress=False)
    assert reopened.retention.rows == "last" and reopened.retention.keep == ("Sat.SMA",)
    extended = reopened.extend(2)
    fresh = monte_carlo(SCRIPT, 5, perturb, seed=5, out=tmp_path / "big", **options)  # type: ignore[arg-type]
    assert_frame_equal(extended, fresh, check_exact=True)
    assert len(fresh) == 5


def test_lazy_returns_the_results_and_a_frame_too_large_is_refused_not_lost(
    full: pd.DataFrame, tmp_path: Path, pool: LocalPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gmat_sweep import results as results_module

    lazy = _run(tmp_path, pool, lazy=True)
    assert isinstance(lazy, Results)
    assert "3 runs (3 ok); outputs: report OrbitReport" in repr(lazy)
    assert_frame_equal(lazy.to_pandas(), full, check_exact=True)
    table = lazy.dataset().to_table(columns=["run_id", "Sat.SMA"])
    assert table.num_rows == len(full)

    # A machine with 1 KiB free: the DataFrame is refused with the way to read it.
    assert lazy.frame_bytes() > 1024
    monkeypatch.setattr(results_module, "_available_memory", lambda: 1024)
    with pytest.raises(ResultsTooLargeError, match="lazy=True") as caught:
        sweep(SCRIPT, grid=GRID, backend=pool, out=tmp_path / "big", progress=False)
    assert "Every run is saved on disk" in str(caught.value)
    saved = Results(tmp_path / "big")
    assert saved.manifest.status_counts() == {"ok": 3}
    assert_frame_equal(saved.to_pandas(check_memory=False), full, check_exact=True)


def test_the_cli_takes_retention_options(site: Path, tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "o"
    done = subprocess.run(
        [sys.executable, "-m", "gmat_sweep.cli", "run", str(SCRIPT), "--grid",
         "Sat.SMA=7000,7100", "--out", str(out), "--workers", "1", "--no-progress",
         "--keep", "Sat.SMA", "--rows", "last"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = Results(out).to_pandas()
    assert list(frame.columns) == ["Sat.SMA", "__status"] and len(frame) == 2
    bad = subprocess.run(
        [sys.executable, "-m", "gmat_sweep.cli", "run", str(SCRIPT), "--grid", "Sat.SMA=7000",
         "--out", str(tmp_path / "b"), "--rows", "most"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "every:N" in bad.stderr
