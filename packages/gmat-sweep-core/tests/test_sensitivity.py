"""Sobol' and Morris designs, their sweeps and their indices, on the stand-in GMAT.

The reference is the Ishigami function, ``Y = sin(X1) + 7 sin(X2)^2 + 0.1 X3^4 sin(X1)``
with each ``Xi`` uniform on ``[-pi, pi]``, computed by GMAT itself in the mission
sequence of ``data/ishigami.script``: its Sobol' indices are known in closed form, and
its Morris elementary effects for ``X2`` on a 4-level grid are all ``+-7.875``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import gmat_sweep
from gmat_sweep import LocalPool, Sweep, analysis, monte_carlo, morris, sobol, sweep
from gmat_sweep.analysis import source as analysis_source
from gmat_sweep.cli import main
from gmat_sweep.designs import design_from_header
from gmat_sweep.errors import AnalysisError, DesignError
from gmat_sweep.manifest import Manifest
from gmat_sweep.sensitivity_designs import Morris, Sobol
from gmat_sweep.testing import FakeGmatRule, make_fake_gmat_install

DATA = Path(__file__).parent / "data"
ISHIGAMI = DATA / "ishigami.script"
NAMES = ("X1", "X2", "X3")
BOUNDS = {p: (-math.pi, math.pi) for p in NAMES}
REAL_GMAT = bool(os.environ.get("GMAT_ROOT"))


def _ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def _analytic() -> tuple[dict[str, float], dict[str, float]]:
    """The Ishigami function's first-order and total Sobol' indices (a=7, b=0.1)."""
    a, b, pi = 7.0, 0.1, math.pi
    v1, v2 = 0.5 * (1 + b * pi**4 / 5) ** 2, a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    first = {"X1": v1 / v, "X2": v2 / v, "X3": 0.0}
    return first, {"X1": (v1 + v13) / v, "X2": v2 / v, "X3": v13 / v}


def _problem() -> dict[str, object]:
    return {"num_vars": 3, "names": list(NAMES), "bounds": [[0.0, 1.0]] * 3}


def _quiet_sweep(call: object, *args: object, **kwargs: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "39/40 ok, 1 failed ..."
        return call(*args, **kwargs)  # type: ignore[operator]


@pytest.fixture(scope="module")
def engine(fake_gmat_root: Path) -> Iterator[LocalPool]:
    """GMAT_ROOT (the stand-in unless a real GMAT is configured) and a pool for the module."""
    with pytest.MonkeyPatch.context() as patch, LocalPool(2) as pool:
        if not REAL_GMAT:
            patch.setenv("GMAT_ROOT", str(fake_gmat_root))
        yield pool


@pytest.fixture(scope="module")
def ishigami_sobol(engine: LocalPool, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Saltelli's sample of 256 base points over the Ishigami function: 1280 runs."""
    out = tmp_path_factory.mktemp("sobol") / "ishigami"
    sobol(ISHIGAMI, 256, BOUNDS, seed=2026, out=out, backend=engine, progress=False,
          rows="last", lazy=True)  # fmt: skip
    return out


# -- the stand-in evaluates GMAT's math ---------------------------------------------


def test_the_stand_in_evaluates_equations_as_gmat_does(fake_gmat_root: Path) -> None:
    """The parser itself, in a process of its own (the stand-in's gmatpy is not imported
    into the test process)."""
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(fake_gmat_root / "bin")!r})
        from gmatpy._math import parse_equation
        env = {{"X1": 0.3, "X2": -1.25, "Sat.SMA": 7000.0}}.__getitem__
        cases = {{}}
        for text in ["2^3^2", "-2^2", "2^-1", "2*-3", "(1 + 2) * 3 - 4 / 8", "atan2(1, -1)",
                     "rad2Deg(acos(-1)) + degToRad(180)", "log(exp(2)) + log10(1000)",
                     "sqrt(16) + abs(-3) - sin(X1)^2 - cos(X1)^2", "Sat.SMA / 1000 - X2",
                     "tan(X1) - asin(0.5) + atan(1) + deg2Rad(90) - radToDeg(1)",
                     "sin(X1) + 7*sin(X2)^2 + 0.1*X2^4*sin(X1)", "X1-X2"]:
            eq = parse_equation(text)
            cases[text] = [eq.evaluate(env), eq.names]
        plain = [parse_equation(t) is None for t in ["7000", "-1.5e3", "X1", "Sat.SMA", "'a b'",
                                                     "{{Earth}}", "[1 2]"]]
        errors = []
        for text in ["sinh(X1)", "atan2(1)", "(X1 + 1", "X1 +", "2 ** 3", "X1 $ 2"]:
            try:
                parse_equation(text)
            except ValueError as exc:
                errors.append(str(exc))
        print(json.dumps({{"cases": cases, "plain": plain, "errors": errors}}))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    x1, x2, pi = 0.3, -1.25, math.pi
    expected = {
        "2^3^2": 64.0,  # left to right, as in GMAT (and MATLAB)
        "-2^2": -4.0,  # power before the sign
        "2^-1": 0.5,
        "2*-3": -6.0,
        "(1 + 2) * 3 - 4 / 8": 8.5,
        "atan2(1, -1)": 3 * pi / 4,
        "rad2Deg(acos(-1)) + degToRad(180)": 180.0 + pi,
        "log(exp(2)) + log10(1000)": 5.0,
        "sqrt(16) + abs(-3) - sin(X1)^2 - cos(X1)^2": 6.0,
        "Sat.SMA / 1000 - X2": 7.0 - x2,
        "tan(X1) - asin(0.5) + atan(1) + deg2Rad(90) - radToDeg(1)": (
            math.tan(x1) - pi / 6 + pi / 4 + pi / 2 - 180 / pi
        ),
        "sin(X1) + 7*sin(X2)^2 + 0.1*X2^4*sin(X1)": (
            math.sin(x1) + 7 * math.sin(x2) ** 2 + 0.1 * x2**4 * math.sin(x1)
        ),
        "X1-X2": x1 - x2,
    }
    for text, value in expected.items():
        assert math.isclose(got["cases"][text][0], value, rel_tol=1e-14, abs_tol=1e-14), text
    assert got["cases"]["Sat.SMA / 1000 - X2"][1] == ["Sat.SMA", "X2"]
    assert all(got["plain"])  # literals stay literals
    assert len(got["errors"]) == 6
    assert "not a math function GMAT knows" in got["errors"][0]
    assert "takes 2 argument(s), not 1" in got["errors"][1]


def test_a_math_domain_error_fails_only_its_run(engine: LocalPool, tmp_path: Path) -> None:
    script = tmp_path / "sqrt.script"
    script.write_text(
        ISHIGAMI.read_text().replace(
            "GMAT Y = sin(X1) + 7*sin(X2)^2 + 0.1*X3^4*sin(X1);", "GMAT Y = sqrt(X1) * Sat.SMA;"
        )
    )
    df = _quiet_sweep(sweep, script, grid={"X1": [-1.0, 4.0]}, backend=engine, out=tmp_path / "o")
    assert isinstance(df, pd.DataFrame)
    assert df.loc[0, "__status"].tolist() == ["failed"]
    np.testing.assert_allclose(df.loc[1, "Y"], [2 * 7000.0] * 2, rtol=1e-12)  # SMA from the state
    error = next(e for e in Manifest.load(tmp_path / "o").run_entries() if e["run_id"] == 0)
    assert 'cannot evaluate "sqrt(X1) * Sat.SMA": math domain error' in error["error"]["log_tail"]


# -- the designs ----------------------------------------------------------------------


def test_sobol_is_saltellis_sample_of_salib_in_salibs_order() -> None:
    from SALib.sample import sobol as salib_sobol

    bounds = {"X1": (-1.0, 2.0), "X2": ("uniform", 10.0, 20.0), "X3": (0.0, 1.0)}
    design = Sobol(8, bounds, seed=5)
    assert len(design) == 8 * (3 + 2) and design.parameters == NAMES
    problem = {"num_vars": 3, "names": list(NAMES), "bounds": [[-1, 2], [10, 20], [0, 1]]}
    salib = salib_sobol.sample(problem, 8, calc_second_order=False, seed=5)
    table = design.to_frame().to_numpy()
    np.testing.assert_array_equal(table, salib)
    for block in table.reshape(8, 5, 3):  # A, AB_1, AB_2, AB_3, B
        a, b = block[0], block[-1]
        for i in range(3):
            expected = a.copy()
            expected[i] = b[i]
            np.testing.assert_array_equal(block[1 + i], expected)
    second = Sobol(8, bounds, seed=5, calc_second_order=True)
    assert len(second) == 8 * (2 * 3 + 2)
    assert [design.seed_for(i) for i in (0, 39)] == [None, None]  # runs have no seeds
    assert design.sample_seed == 5 and Sobol(8, bounds).sample_seed != Sobol(8, bounds).sample_seed


def test_sobol_maps_its_points_through_each_distribution() -> None:
    import scipy.stats
    from scipy.special import ndtri

    unit = Sobol(16, {"A": (0.0, 1.0), "B": (0.0, 1.0), "C": (0.0, 1.0)}, seed=3).to_frame()
    perturb = {"A": ("normal", 7000.0, 5.0), "B": ("lognormal", 0.0, 0.5),
               "C": scipy.stats.truncnorm(-2, 2)}  # fmt: skip
    values = Sobol(16, perturb, seed=3).to_frame()
    np.testing.assert_allclose(values["A"], 7000.0 + 5.0 * ndtri(unit["A"]), rtol=1e-15)
    np.testing.assert_allclose(values["B"], np.exp(0.5 * ndtri(unit["B"])), rtol=1e-14)
    np.testing.assert_allclose(values["C"], scipy.stats.truncnorm(-2, 2).ppf(unit["C"]))


def test_morris_trajectories_step_one_field_by_delta_of_its_range() -> None:
    design = Morris(6, {"A": (0.0, 3.0), "B": ("uniform", 10.0, 16.0)}, seed=11, levels=4)
    assert len(design) == 6 * (2 + 1)
    table = design.to_frame().to_numpy().reshape(6, 3, 2)
    spans = np.array([3.0, 6.0])
    for path in table:
        steps = np.diff(path, axis=0) / spans
        moved = steps != 0
        assert (moved.sum(axis=1) == 1).all() and (moved.sum(axis=0) == 1).all()  # one at a time
        np.testing.assert_allclose(np.abs(steps[steps != 0]), 4 / (2 * 3))


def test_designs_rebuild_from_their_header_with_or_without_their_table(tmp_path: Path) -> None:
    for design in (
        Sobol(8, {"X1": (0, 1), "X2": ("normal", 0, 1)}, seed=1, calc_second_order=True),
        Morris(4, {"X1": (0, 1), "X2": (5, 6)}, seed=2, levels=6),
    ):
        header = json.loads(json.dumps(design.to_header(), sort_keys=True))
        assert header["kind"] == design.kind and header["seed"] in (1, 2)
        assert header["sampler"].startswith("SALib.sample.") and header["salib_version"]
        table = tmp_path / f"{design.kind}.parquet"
        design.write_table(table)
        assert design_from_header(header, table_path=table) == design
        assert design_from_header(header) == design  # drawn again with SALib: the same table
        changed = {**header, "sha256": "0" * 64}
        with pytest.raises(DesignError, match="differs from the one this manifest"):
            design_from_header(changed, table_path=table)
        with pytest.raises(DesignError, match="draws a different one than SALib"):
            design_from_header(changed)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Sobol(10, BOUNDS), "powers of 2; use n=8 or n=16"),
        (lambda: Sobol(8, {}), "at least one parameter"),
        (lambda: Sobol(8, BOUNDS, calc_second_order=1), "calc_second_order must be True"),
        (lambda: Sobol(8, {("X1", "X2"): ("mvnormal", [0, 0], np.eye(2))}), "independent"),
        (lambda: Sobol(8, {"X1": ("gauss", 0, 1)}), "unknown distribution 'gauss'"),
        (lambda: Morris(1, BOUNDS), "trajectories"),
        (lambda: Morris(4, BOUNDS, levels=3), "even number of levels"),
        (lambda: Morris(4, {"X1": ("normal", 0, 1)}), "needs bounds"),
        (lambda: Morris(4, {"Sat..SMA": (0, 1)}), "not a GMAT field path"),
    ],
)
def test_malformed_designs_are_refused(make: object, message: str) -> None:
    with pytest.raises(DesignError, match=message):
        make()  # type: ignore[operator]


def test_without_salib_drawing_is_refused_with_the_pip_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "SALib.sample.sobol", None)
    with pytest.raises(DesignError, match=r'needs SALib.*\n    pip install "gmat-sweep-core'):
        Sobol(8, BOUNDS)


def test_the_designs_and_entry_points_are_exported() -> None:
    assert gmat_sweep.Sobol is Sobol and gmat_sweep.Morris is Morris
    assert {"sobol", "morris", "Sobol", "Morris"} <= set(dir(gmat_sweep))
    assert {"sensitivity", "interactions"} <= set(dir(analysis))


# -- Sobol' indices of a GMAT sweep ----------------------------------------------------


def test_sobol_indices_of_ishigami_match_the_closed_form(ishigami_sobol: Path) -> None:
    indices = analysis.sensitivity(ishigami_sobol, "Y")
    assert list(indices.index) == list(NAMES) and indices.index.name == "parameter"
    assert list(indices.columns) == ["S1", "S1_conf", "ST", "ST_conf"]
    s1, st = _analytic()
    assert [round(s1[p], 3) for p in NAMES] == [0.314, 0.442, 0.0]
    assert [round(st[p], 3) for p in NAMES] == [0.558, 0.442, 0.244]
    for p in NAMES:
        row = indices.loc[p]
        assert abs(row["S1"] - s1[p]) <= row["S1_conf"], (p, row.to_dict())
        assert abs(row["ST"] - st[p]) <= row["ST_conf"], (p, row.to_dict())
        assert abs(row["S1"] - s1[p]) < 0.1 and abs(row["ST"] - st[p]) < 0.1


def test_sobol_indices_are_salibs_of_the_function_on_the_recorded_table(
    ishigami_sobol: Path,
) -> None:
    """GMAT computed Y for every row of the recorded table, in order: the indices are
    SALib's of the analytic function on that table (to the report's 16 digits)."""
    from SALib.analyze import sobol as salib_sobol

    table = pd.read_parquet(ishigami_sobol / "design.parquet")[list(NAMES)].to_numpy()
    direct = salib_sobol.analyze(_problem(), _ishigami(table), calc_second_order=False, seed=2026)
    indices = analysis.sensitivity(ishigami_sobol, "Y")
    for column in indices.columns:
        np.testing.assert_allclose(indices[column], direct[column], rtol=1e-9, atol=1e-12)
    again = analysis.sensitivity(ishigami_sobol, "Y", seed=2026)  # the design's seed
    pd.testing.assert_frame_equal(again, indices)
    other = analysis.sensitivity(ishigami_sobol, "Y", seed=1, conf_level=0.5)
    np.testing.assert_array_equal(other["S1"], indices["S1"])  # the bootstrap only
    assert (other["S1_conf"] < indices["S1_conf"]).all()


def test_a_metric_function_of_each_runs_rows_gives_the_same_indices(
    ishigami_sobol: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_channel = analysis.sensitivity(ishigami_sobol, "Y", how="max")
    monkeypatch.setattr(analysis_source, "BATCH_ROWS", 7)  # runs split across batches
    seen: list[pd.DataFrame] = []

    def last_y(run: pd.DataFrame) -> float:
        seen.append(run)
        return float(run["Y"].iloc[-1])

    by_function = analysis.sensitivity(ishigami_sobol, last_y)
    pd.testing.assert_frame_equal(by_function, by_channel)
    assert len(seen) == 1280 and list(seen[0].columns) == ["X1", "X2", "X3", "Y"]
    assert seen[0].index.name == "time" and len(seen[0]) == 1  # rows="last"
    with pytest.raises(AnalysisError, match="return one number per run"):
        analysis.sensitivity(ishigami_sobol, lambda run: run["Y"])


def test_the_manifest_records_the_sobol_design(ishigami_sobol: Path) -> None:
    header = Manifest.load(ishigami_sobol).header["design"]
    assert header["kind"] == "sobol" and header["n"] == 1280 and header["base_samples"] == 256
    assert header["seed"] == 2026 and header["calc_second_order"] is False
    assert header["distributions"]["X1"] == {"family": "uniform", "lo": -math.pi, "hi": math.pi}
    assert header["salib_version"] and len(header["sha256"]) == 64
    design = Sweep.from_manifest(ishigami_sobol).design
    assert isinstance(design, Sobol) and design.to_header() == header


def test_second_order_indices_of_a_design_that_sampled_them(
    engine: LocalPool, tmp_path: Path
) -> None:
    from SALib.analyze import sobol as salib_sobol

    out = tmp_path / "s2"
    sobol(ISHIGAMI, 16, BOUNDS, seed=4, calc_second_order=True, out=out, backend=engine,
          progress=False, rows="last", lazy=True)  # fmt: skip
    pairs = analysis.interactions(out, "Y")
    assert list(pairs.index) == [("X1", "X2"), ("X1", "X3"), ("X2", "X3")]
    assert list(pairs.index.names) == ["parameter", "other"]
    table = pd.read_parquet(out / "design.parquet")[list(NAMES)].to_numpy()
    direct = salib_sobol.analyze(_problem(), _ishigami(table), calc_second_order=True, seed=4)
    expected = [direct["S2"][0, 1], direct["S2"][0, 2], direct["S2"][1, 2]]
    np.testing.assert_allclose(pairs["S2"], expected, rtol=1e-9, atol=1e-12)
    assert len(analysis.sensitivity(out, "Y")) == 3


# -- Morris ---------------------------------------------------------------------------


def test_morris_elementary_effects_of_ishigami(engine: LocalPool, tmp_path: Path) -> None:
    from SALib.analyze import morris as salib_morris

    out = tmp_path / "morris"
    df = morris(ISHIGAMI, 20, BOUNDS, seed=7, out=out, backend=engine, progress=False,
                rows="last")  # fmt: skip
    assert isinstance(df, pd.DataFrame) and len(df) == 20 * 4
    indices = analysis.sensitivity(out, "Y")
    assert list(indices.columns) == ["mu", "mu_star", "mu_star_conf", "sigma"]
    # On the 4-level grid every step of X2 changes 7 sin(X2)^2 by 7 * 3/4, over 2/3 of
    # its range: |EE| = 7.875 exactly; X1 and X2 matter more than X3.
    assert math.isclose(indices.loc["X2", "mu_star"], 7.875, rel_tol=1e-12)
    assert indices["mu_star"].idxmin() == "X3"
    table = pd.read_parquet(out / "design.parquet")[list(NAMES)].to_numpy()
    direct = salib_morris.analyze(_problem(), table, _ishigami(table), num_levels=4, seed=7)
    for column in indices.columns:
        np.testing.assert_allclose(indices[column], direct[column], rtol=1e-9, atol=1e-9)
    with pytest.raises(AnalysisError, match="Morris design"):
        analysis.interactions(out, "Y")


# -- refusals and resume --------------------------------------------------------------


def test_indices_refuse_what_they_cannot_estimate(
    engine: LocalPool, tmp_path: Path, ishigami_sobol: Path
) -> None:
    mc = tmp_path / "mc"
    monte_carlo(ISHIGAMI, 4, {"X1": ("uniform", 0, 1)}, seed=1, out=mc, backend=engine,
                progress=False, lazy=True)  # fmt: skip
    with pytest.raises(AnalysisError, match="is a monte_carlo sweep; .* gmat_sweep.sobol"):
        analysis.sensitivity(mc, "Y")
    with pytest.raises(AnalysisError, match="a DataFrame does not"):
        analysis.sensitivity(pd.DataFrame(), "Y")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="not a numeric channel"):
        analysis.sensitivity(ishigami_sobol, "Z")
    with pytest.raises(AnalysisError, match="calc_second_order=False"):
        analysis.interactions(ishigami_sobol, "Y")
    with pytest.raises(AnalysisError, match="conf_level"):
        analysis.sensitivity(ishigami_sobol, "Y", conf_level=1.5)
    with pytest.raises(AnalysisError, match="does not depend on the parameters"):
        analysis.sensitivity(ishigami_sobol, lambda run: 1.0)


@pytest.mark.skipif(REAL_GMAT, reason="needs the stand-in GMAT's failure knob")
def test_a_sweep_with_a_failed_run_is_refused_until_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    design = Sobol(8, BOUNDS, seed=99)
    failing = design.overrides(5)["X1"]  # run 5 is A_1; AB_1^2 and AB_1^3 share its X1
    assert [i for i in range(40) if design.overrides(i)["X1"] == failing] == [5, 7, 8]
    rule = FakeGmatRule(when={"X1": failing}, action="fail")
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "G1", rules=[rule])))
    out = tmp_path / "sweep"
    _quiet_sweep(sobol, ISHIGAMI, 8, BOUNDS, seed=99, out=out, progress=False, lazy=True)
    with pytest.raises(AnalysisError) as refused:
        analysis.sensitivity(out, "Y")
    assert "need every run of the design, and 3 of the 40 runs" in str(refused.value)
    assert f"(3 failed). Complete them with `gmat-sweep resume {out}`" in str(refused.value)

    # Resume on a GMAT that no longer fails it, with the table lost (drawn again by SALib
    # and checked against the recorded hash), then without SALib at all.
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "G2")))
    (out / "design.parquet").rename(tmp_path / "table.parquet")
    reopened = Sweep.from_manifest(out, progress=False)
    assert reopened.design == design
    (tmp_path / "table.parquet").rename(out / "design.parquet")
    with monkeypatch.context() as without_salib:
        for name in [m for m in sys.modules if m.split(".")[0] == "SALib"] + ["SALib"]:
            without_salib.setitem(sys.modules, name, None)
        Sweep.from_manifest(out, progress=False).resume(lazy=True)

    fresh = tmp_path / "fresh"
    sobol(ISHIGAMI, 8, BOUNDS, seed=99, out=fresh, progress=False, lazy=True)
    pd.testing.assert_frame_equal(analysis.sensitivity(out, "Y"), analysis.sensitivity(fresh, "Y"))


# -- the command line -----------------------------------------------------------------


def test_the_cli_runs_sobol_and_morris_and_prints_indices(
    engine: LocalPool, tmp_path: Path
) -> None:
    runner = CliRunner()
    bounds = [arg for p in NAMES for arg in ("--perturb", f"{p}=-{math.pi}:{math.pi}")]
    out = tmp_path / "cli-sobol"
    done = runner.invoke(main, ["sobol", str(ISHIGAMI), "--n", "8", *bounds, "--seed", "3",
                                "--out", str(out), "--rows", "last", "--no-progress"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert Manifest.load(out).header["design"]["kind"] == "sobol"
    shown = runner.invoke(main, ["sensitivity", str(out), "Y"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.split()[:4] == ["S1", "S1_conf", "ST", "ST_conf"]
    expected = analysis.sensitivity(out, "Y")
    assert shown.output.strip() == expected.to_string().strip()

    out = tmp_path / "cli-morris"
    done = runner.invoke(main, ["morris", str(ISHIGAMI), "--trajectories", "4", *bounds,
                                "--levels", "4", "--seed", "3", "--out", str(out),
                                "--no-progress"])  # fmt: skip
    assert done.exit_code == 0, done.output
    shown = runner.invoke(main, ["sensitivity", str(out), "Y", "--reduce", "first"])
    assert shown.exit_code == 0 and "mu_star" in shown.output

    bad = runner.invoke(main, ["sobol", str(ISHIGAMI), "--n", "10", *bounds])
    assert bad.exit_code == 2 and "powers of 2" in bad.output
    bad = runner.invoke(main, ["morris", str(ISHIGAMI), "--trajectories", "4",
                               "--perturb", "X1=normal:0:1"])  # fmt: skip
    assert bad.exit_code == 2 and "needs bounds" in bad.output
