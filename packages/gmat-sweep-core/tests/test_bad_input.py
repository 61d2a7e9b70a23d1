"""Bad input gets a clear GmatSweepError before any run starts, and nothing is written."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from gmat_sweep import monte_carlo, sweep
from gmat_sweep.errors import (
    BackendError,
    DesignError,
    GmatSweepError,
    GmatUnavailableError,
    OutputDirError,
    ParameterError,
    ScriptError,
)
from gmat_sweep.testing import kit_script

SCRIPT = kit_script()


def _nothing_ran(out: Path) -> bool:
    return not (out / "runs").exists() and not (out / "manifest.jsonl").exists()


def test_missing_script(gmat: Path, tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="script not found: .*nope.script"):
        sweep(tmp_path / "nope.script", grid={"Sat.SMA": [7000]}, out=tmp_path / "o")
    assert _nothing_ran(tmp_path / "o")


def test_script_gmat_cannot_parse(gmat: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.script"
    bad.write_text(SCRIPT.read_text().replace("GMAT Sat.ECC = 0.001;", "GMAT Sat.ECC = = 0.001"))
    with pytest.raises(ScriptError, match="GMAT cannot load .*bad.script"):
        sweep(bad, grid={"Sat.SMA": [7000]}, out=tmp_path / "o")
    assert _nothing_ran(tmp_path / "o")


def test_unknown_field_suggests_the_right_one(gmat: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError) as info:
        sweep(SCRIPT, grid={"Sat.SMAA": [7000]}, out=tmp_path / "o")
    assert "unknown field 'SMAA' on Spacecraft 'Sat'; did you mean: SMA?" in str(info.value)
    assert _nothing_ran(tmp_path / "o")


def test_unknown_resource_in_a_perturbation(gmat: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="unknown resource 'Nope'"):
        monte_carlo(SCRIPT, 3, {"Nope.SMA": ("normal", 7000, 1)}, seed=1, out=tmp_path / "o")


def test_value_of_the_wrong_type(gmat: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ParameterError, match="type mismatch for 'Sat.SMA': expected a real number, got str"
    ):
        sweep(SCRIPT, grid={"Sat.SMA": [7000, "big"]}, out=tmp_path / "o")


def test_every_bad_field_is_listed_at_once(gmat: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError) as info:
        sweep(SCRIPT, grid={"Sat.SMAA": [7000], "Sat.INC": ["steep"]}, out=tmp_path / "o")
    assert "SMAA" in str(info.value) and "Sat.INC" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": {}}, "at least one parameter"),
        ({"grid": {"Sat.SMA": []}}, "empty|no values"),
        ({"grid": {"Sat.SMA": [7000, math.nan]}}, "finite|nan"),
        ({"grid": {"Sat.SMA": [7000, math.inf]}}, "finite|inf"),
        ({}, "exactly one of grid"),
    ],
)
def test_malformed_grids(gmat: Path, tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DesignError, match=match):
        sweep(SCRIPT, out=tmp_path / "o", **kwargs)  # type: ignore[arg-type]
    assert _nothing_ran(tmp_path / "o")


def test_unknown_distribution_and_bad_n(gmat: Path, tmp_path: Path) -> None:
    with pytest.raises(DesignError, match="normal"):
        monte_carlo(SCRIPT, 3, {"Sat.SMA": ("nromal", 7000, 1)}, out=tmp_path / "o")
    with pytest.raises(DesignError, match=r"must be a whole number >= 1; got 0"):
        monte_carlo(SCRIPT, 0, {"Sat.SMA": ("normal", 7000, 1)}, out=tmp_path / "o")


def test_samples_with_duplicate_or_empty_columns(gmat: Path, tmp_path: Path) -> None:
    dup = pd.DataFrame([[7000.0, 7100.0]], columns=["Sat.SMA", "Sat.SMA"])
    with pytest.raises(DesignError, match="repeats the columns"):
        sweep(SCRIPT, samples=dup, out=tmp_path / "o")
    with pytest.raises(DesignError, match=r"one row per run .* shape \(0, 0\)"):
        sweep(SCRIPT, samples=pd.DataFrame(), out=tmp_path / "o")


def test_out_dir_that_is_a_file_or_under_a_file(gmat: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(OutputDirError, match="not a directory"):
        sweep(SCRIPT, grid={"Sat.SMA": [7000]}, out=blocker)
    with pytest.raises(OutputDirError, match="cannot write"):
        sweep(SCRIPT, grid={"Sat.SMA": [7000]}, out=blocker / "o")


def test_no_gmat_on_the_driver_says_how_to_proceed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(tmp_path / "no-gmat-here"))
    with pytest.raises(GmatUnavailableError, match="GMAT_ROOT.*validate=False"):
        sweep(SCRIPT, grid={"Sat.SMA": [7000]}, out=tmp_path / "o")


def test_bad_settings(gmat: Path, tmp_path: Path) -> None:
    with pytest.raises(GmatSweepError, match="timeout"):
        sweep(SCRIPT, grid={"Sat.SMA": [7000]}, out=tmp_path / "o", timeout=-1)
    with pytest.raises(GmatSweepError, match="max_retries"):
        sweep(SCRIPT, grid={"Sat.SMA": [7000]}, out=tmp_path / "o", max_retries=-1)


def test_rejected_backend_options_write_nothing(gmat: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    with pytest.raises(BackendError, match="rejected its options \\(workers=0\\)"):
        sweep(SCRIPT, grid={"Sat.SMA": [7000.0]}, backend_options={"workers": 0}, out=out)
    assert not out.exists() or not any(out.iterdir())
    # The corrected call then just works: nothing was left to be refused.
    df = sweep(SCRIPT, grid={"Sat.SMA": [7000.0]}, backend_options={"workers": 1}, out=out)
    assert set(df["__status"]) == {"ok"}
