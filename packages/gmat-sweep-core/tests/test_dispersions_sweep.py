"""Sweeps with correlated groups and burn errors on the stand-in GMAT: the manifest records
every group, so resume and extend redraw the very values a fresh sweep draws; the CLI."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from pandas.testing import assert_frame_equal

from gmat_sweep import LocalPool, MonteCarlo, Sweep, monte_carlo
from gmat_sweep.cli import main
from gmat_sweep.demo import example_script
from gmat_sweep.manifest import Manifest
from gmat_sweep.spec import RunOutcome, RunSpec

SCRIPT = example_script()  # a LEO mission with the impulsive burn Raise
STATE = ("Sat.X", "Sat.Y", "Sat.Z", "Sat.VX", "Sat.VY", "Sat.VZ")
BURN = ("Raise.Element1", "Raise.Element2", "Raise.Element3")
NOMINAL_STATE = [6993.0, 0.0, 0.0, 0.0, 4.69, 5.91]
COV = np.diag([0.25, 0.25, 0.25, 1e-8, 1e-8, 1e-8])
COV[0, 4] = COV[4, 0] = 0.8 * 0.5 * 1e-4  # radial position and velocity correlated
PERTURB: dict[Any, Any] = {
    "FirstCoast": ("normal", 1800.0, 30.0),
    STATE: ("mvnormal", NOMINAL_STATE, COV),
    BURN: ("pointing", [0.02, 0.0, 0.0], 0.01, 1.0),
}


def overrides(out: Path) -> dict[int, dict[str, Any]]:
    """Each run's overrides as the manifest recorded them (its latest attempt)."""
    return {int(r["run_id"]): r["overrides"] for r in Manifest.load(out).run_entries()}


class LosesOddRuns(LocalPool):
    """Loses the first attempt of every odd run, as a dying worker would."""

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        if any(s.attempt == 1 and s.run_id % 2 for s in specs):
            lost: Future[list[RunOutcome]] = Future()
            lost.set_exception(ConnectionError("worker lost"))
            return lost
        return super().submit(specs)


def test_resume_and_extend_with_groups_equal_a_fresh_sweep(gmat: Path, tmp_path: Path) -> None:
    with LocalPool(2) as pool:
        fresh = monte_carlo(SCRIPT, 6, PERTURB, seed=13, backend=pool, out=tmp_path / "fresh")
        # Resume: odd runs are lost (no retries), then redrawn from the header.
        with LosesOddRuns(1) as flaky, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            partial = monte_carlo(
                SCRIPT, 4, PERTURB, seed=13, backend=flaky, out=tmp_path / "o", max_retries=0
            )
        assert partial["__status"].groupby(level="run_id").first().tolist() == [
            "ok",
            "lost",
            "ok",
            "lost",
        ]
        resumed = Sweep.from_manifest(tmp_path / "o", backend=pool).resume()
        assert (resumed["__status"] == "ok").all()
        # Extend: two more runs, as in a fresh sweep of six.
        extended = Sweep.from_manifest(tmp_path / "o", backend=pool).extend(2)
    assert_frame_equal(extended, fresh, check_exact=True)
    assert overrides(tmp_path / "o") == overrides(tmp_path / "fresh")
    design = MonteCarlo(6, PERTURB, seed=13)
    assert overrides(tmp_path / "fresh") == {i: design.overrides(i) for i in range(6)}
    header = Manifest.load(tmp_path / "o").header["design"]
    assert [g["fields"] for g in header["groups"]] == [list(STATE), list(BURN)]


def test_an_unseeded_sweep_with_groups_reopens_with_the_same_design(
    gmat: Path, tmp_path: Path
) -> None:
    with LocalPool(1) as pool:
        monte_carlo(SCRIPT, 2, PERTURB, backend=pool, out=tmp_path / "o")
    reopened = Sweep.from_manifest(tmp_path / "o")
    seed = Manifest.load(tmp_path / "o").header["design"]["seed"]
    assert reopened.design == MonteCarlo(2, PERTURB, seed=seed)
    assert overrides(tmp_path / "o") == {i: reopened.design.overrides(i) for i in range(2)}


def test_cli_groups_from_a_covariance_file_then_extend(
    gmat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    np.savetxt("cov.csv", COV, delimiter=",", fmt="%.17g")
    state = ",".join(STATE) + "=mvnormal:" + ",".join(map(repr, NOMINAL_STATE)) + ":cov.csv"
    common = [
        "--perturb",
        "FirstCoast=normal:1800:30",
        "--perturb",
        state,
        "--perturb",
        ",".join(BURN) + "=pointing:0.02,0,0:0.01:1",
        "--seed",
        "13",
        "--no-progress",
        "--workers",
        "2",
    ]
    runner = CliRunner()
    small = runner.invoke(main, ["monte-carlo", str(SCRIPT), "--n", "2", "--out", "small", *common])
    assert small.exit_code == 0, small.output
    Path("cov.csv").unlink()  # the manifest holds the matrix: extend needs no file
    more = runner.invoke(main, ["extend", "small", "--n", "2", "--no-progress"])
    assert more.exit_code == 0, more.output
    design = MonteCarlo(4, PERTURB, seed=13)
    assert overrides(tmp_path / "small") == {i: design.overrides(i) for i in range(4)}


def test_cli_refuses_a_covariance_that_is_not_semidefinite(
    gmat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.csv").write_text("Sat.X,Sat.Y\n1,2\n2,1\n")
    result = CliRunner().invoke(
        main,
        ["monte-carlo", str(SCRIPT), "--n", "2", "--out", "o",
         "--perturb", "Sat.X,Sat.Y=mvnormal:7000,0:bad.csv"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "not positive semi-definite: the smallest eigenvalue" in result.output
    assert not Path("o").exists()  # refused before anything was written
