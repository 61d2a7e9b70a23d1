"""Tests of gmat_sweep.dispersions: correlated groups and burn errors in Monte Carlo designs.

The statistics use fixed seeds, so every assertion is deterministic; tolerances are 5
sampling standard errors, so the checks would catch a wrong factor, a wrong scale or a
non-uniform azimuth, yet pass for the right distribution with any seed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
from scipy.special import ndtri

from gmat_sweep.designs import (
    CHUNK,
    SEED_SCHEME,
    SEED_SCHEME_GROUPS,
    Design,
    LatinHypercube,
    MonteCarlo,
    design_from_header,
    extended,
    parameter_key,
)
from gmat_sweep.dispersions import (
    COVARIANCE_TOLERANCE,
    covariance_factor,
    group_key,
    read_covariance,
)
from gmat_sweep.errors import DesignError
from gmat_sweep.grammar import parse_perturbations

STATE = ("Sat.X", "Sat.Y", "Sat.Z", "Sat.VX", "Sat.VY", "Sat.VZ")
BURN = ("Burn.Element1", "Burn.Element2", "Burn.Element3")
MEAN = [7000.0, 100.0, -50.0, 0.01, 7.5, 0.2]


def state_cov() -> np.ndarray:
    """An orbit-determination-like covariance: km and km/s, strongly correlated."""
    sd = np.array([0.5, 1.2, 0.3, 4e-4, 1e-3, 2e-4])
    b = np.random.default_rng(2024).normal(size=(6, 6))
    r = b @ b.T + 0.05 * np.eye(6)
    d = np.sqrt(np.diag(r))
    cov = r / np.outer(d, d) * np.outer(sd, sd)
    return np.asarray((cov + cov.T) / 2)  # exactly symmetric


def draws(design: Design, fields: tuple[str, ...]) -> np.ndarray:
    return np.array([[ov[f] for f in fields] for _, ov, _ in design.iter_runs()])


def canon(runs: Any) -> list[Any]:
    """Runs with every value as (type name, repr): equal iff bit-identical."""
    return [
        (i, [(k, type(v).__name__, repr(v)) for k, v in ov.items()], seed) for i, ov, seed in runs
    ]


def via_json(design: Design) -> Design:
    return design_from_header(json.loads(json.dumps(design.to_header(), sort_keys=True)))


def assert_covariance_within_sampling_error(x: np.ndarray, mean: Any, cov: Any) -> None:
    """Sample mean and covariance of the rows of ``x`` within 5 standard errors of the
    target: var(mean_i) = cov_ii/n; var(S_ij) ~ (cov_ij^2 + cov_ii cov_jj)/n (Wishart)."""
    n = len(x)
    mean, cov = np.asarray(mean, dtype=float), np.asarray(cov, dtype=float)
    mean_err = np.abs(x.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / n)
    assert mean_err.max() < 5, mean_err
    s = np.cov(x, rowvar=False)
    se = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)
    assert (np.abs(s - cov) < 5 * se).all(), np.abs(s - cov) / se


# --- mvnormal: the distribution --------------------------------------------------------


def test_sample_covariance_of_4000_draws_is_within_its_sampling_error() -> None:
    cov = state_cov()
    design = MonteCarlo(4000, {STATE: ("mvnormal", MEAN, cov)}, seed=11)
    x = draws(design, STATE)
    assert_covariance_within_sampling_error(x, MEAN, cov)
    # The check has teeth: the same draws are far from the covariance without correlations.
    s, diag = np.cov(x, rowvar=False), np.diag(np.diag(cov))
    se = np.sqrt((diag**2 + np.outer(np.diag(cov), np.diag(cov))) / len(x))
    assert (np.abs(s - diag) > 5 * se).any()


def test_factor_reproduces_the_covariance_and_is_pivoted_cholesky() -> None:
    cov = state_cov()
    f = np.array(covariance_factor(cov.tolist()))
    assert f.shape == (6, 6)
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.abs(f @ f.T - cov).max() / scale.max() < 1e-12
    assert (np.abs(f @ f.T - cov) <= 1e-12 * scale).all()
    # Lower triangular in pivot order: each column has one more zero than the one before.
    zeros = [int((f[:, c] == 0).sum()) for c in range(6)]
    assert zeros == [0, 1, 2, 3, 4, 5]


def test_a_singular_covariance_draws_exactly_along_its_range() -> None:
    j = np.array([[1.0, 0.0], [0.5, 2.0], [-1.0, 3.0]])
    cov = j @ j.T  # rank 2
    null = np.cross(j[:, 0], j[:, 1])  # (3.5, -3, 2): j.T @ null == 0
    assert (j.T @ null == 0).all()
    fields = ("A.x", "A.y", "A.z")
    design = MonteCarlo(4000, {fields: ("mvnormal", [1.0, 2.0, 3.0], cov)}, seed=5)
    x = draws(design, fields)
    assert len(covariance_factor(cov.tolist())[0]) == 2  # two columns: rank 2
    assert np.abs((x - [1.0, 2.0, 3.0]) @ null).max() < 1e-12 * np.abs(x).max()
    assert_covariance_within_sampling_error(x, [1.0, 2.0, 3.0], cov)


def test_perfect_correlation_and_zero_variance() -> None:
    fields = ("A.x", "A.y", "A.z")
    cov = [[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.0]]
    x = draws(MonteCarlo(200, {fields: ("mvnormal", [0.0, 0.0, 9.5], cov)}, seed=2), fields)
    assert (x[:, 1] == 2 * x[:, 0]).all()
    assert (x[:, 2] == 9.5).all()  # zero variance: the mean, exactly
    assert x[:, 0].std() > 0.5


def test_one_field_group_is_a_normal() -> None:
    x = draws(MonteCarlo(4000, {("A.x",): ("mvnormal", [3.0], [[4.0]])}, seed=8), ("A.x",))
    assert st.kstest(x[:, 0], "norm", args=(3.0, 2.0)).pvalue > 1e-3


# --- mvnormal: validation --------------------------------------------------------------

GOOD = [[1.0, 0.5], [0.5, 2.0]]


@pytest.mark.parametrize(
    ("mean", "cov", "match"),
    [
        ([0, 0], [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], "square 2x2 matrix.*got 3 rows"),
        ([0, 0], np.eye(3), "square 2x2 matrix.*got 3x3"),
        ([0, 0], np.ones(2), "square 2x2 matrix.*got 2"),
        ([0, 0], [[1.0, 0.5], [0.4, 1.0]], "not symmetric: cov\\[0\\]\\[1\\] = 0.5 but cov"),
        (
            [0, 0],
            [[1.0, 2.0], [2.0, 1.0]],
            "not positive semi-definite: the smallest eigenvalue of its correlation matrix "
            "is -1 \\(of the covariance itself: -1\\), below the tolerance -1e-08 \\(the "
            "correlation of A.x and A.y is 2, beyond",
        ),
        ([0, 0], [[-1.0, 0.0], [0.0, 1.0]], "variance of A.x \\(cov\\[0\\]\\[0\\]\\) is -1.0"),
        ([0, 0], [[0.0, 0.1], [0.1, 1.0]], "A.x has zero variance but covariance 0.1 with A.y"),
        ([0, 0], [[1.0, math.nan], [math.nan, 1.0]], "cov\\[0\\]\\[1\\] must be a finite real"),
        ([0, 0, 0], GOOD, "mvnormal mean needs 2 numbers, one per field"),
        ([0, "x"], GOOD, "mvnormal mean #1 must be a finite real number"),
        ([0, 0], "cov.txt", "use a .csv or .npy file"),
        ([0, 0], "missing.csv", "cannot read it"),
    ],
)
def test_bad_covariances_are_refused_saying_why(mean: Any, cov: Any, match: str) -> None:
    with pytest.raises(DesignError, match=f"group \\('A.x', 'A.y'\\): .*{match}"):
        MonteCarlo(3, {("A.x", "A.y"): ("mvnormal", mean, cov)}, seed=1)


def test_an_indefinite_three_by_three_names_its_smallest_eigenvalue() -> None:
    cov = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])  # each |r| < 1
    lowest = np.linalg.eigvalsh(cov)[0]
    with pytest.raises(DesignError, match=f"correlation matrix is {lowest:.6g}") as info:
        MonteCarlo(3, {("A.x", "A.y", "A.z"): ("mvnormal", [0, 0, 0], cov)}, seed=1)
    assert "beyond" not in str(info.value)


def test_rounding_within_the_tolerance_is_accepted() -> None:
    j = np.array([[1.0], [2.0]])
    cov = j @ j.T  # singular
    cov[0, 1] *= 1 + 1e-12  # asymmetric in the 12th digit, and then slightly indefinite
    design = MonteCarlo(3, {("A.x", "A.y"): ("mvnormal", [0, 0], cov)}, seed=1)
    recorded = design.to_header()["groups"][0]["cov"]
    assert recorded[0][1] == recorded[1][0] == (cov[0, 1] + cov[1, 0]) / 2
    # Beyond the tolerance it is refused: a correlation of 1 + 100 * tolerance.
    cov[0, 1] = cov[1, 0] = 2.0 * (1 + 100 * COVARIANCE_TOLERANCE)
    with pytest.raises(DesignError, match="not positive semi-definite"):
        MonteCarlo(3, {("A.x", "A.y"): ("mvnormal", [0, 0], cov)}, seed=1)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (("normal", 0, 1), "needs a joint distribution: \\('mvnormal', mean, cov\\)"),
        (("mvnormal", [0, 0]), "write \\('mvnormal', mean, cov\\)"),
        (("pointing", [1, 0], 0.1, 1.0), "group of three fields"),
        (None, "needs a joint distribution"),
    ],
)
def test_group_spec_errors(spec: Any, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        MonteCarlo(3, {("A.x", "A.y"): spec}, seed=1)


@pytest.mark.parametrize(
    ("perturb", "match"),
    [
        ({("A.x", "A.x"): ("mvnormal", [0, 0], GOOD)}, "names a field twice"),
        (
            {"A.x": ("normal", 0, 1), ("A.x", "A.y"): ("mvnormal", [0, 0], GOOD)},
            "'A.x' is drawn twice",
        ),
        ({("A.x", "bad name"): ("mvnormal", [0, 0], GOOD)}, "group field 'bad name' is not"),
        ({(): ("mvnormal", [], [])}, "a group needs at least one field"),
        ({"A.x": ("mvnormal", [0], [[1.0]])}, "give it a tuple of field names as the key"),
    ],
)
def test_group_naming_errors(perturb: Any, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        MonteCarlo(3, perturb, seed=1)


def test_latin_hypercube_refuses_groups() -> None:
    with pytest.raises(DesignError, match="a Latin hypercube stratifies each field on its own"):
        LatinHypercube(4, {("A.x", "A.y"): ("mvnormal", [0, 0], GOOD)}, seed=1)
    with pytest.raises(DesignError, match="'pointing' draws several fields together.*Latin"):
        LatinHypercube(4, {"A.x": ("pointing", [1, 0, 0], 0.1, 1)}, seed=1)


# --- covariance files -----------------------------------------------------------------


def test_covariance_files_csv_with_or_without_names_and_npy(tmp_path: Path) -> None:
    cov = state_cov()
    plain, named, indexed, npy = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv", "d.npy"))
    np.savetxt(plain, cov, delimiter=",", fmt="%.17g")
    pd.DataFrame(cov, columns=list(STATE)).to_csv(named, index=False, float_format="%.17g")
    pd.DataFrame(cov, index=list(STATE), columns=list(STATE)).to_csv(indexed, float_format="%.17g")
    np.save(npy, cov)
    reference = MonteCarlo(5, {STATE: ("mvnormal", MEAN, cov)}, seed=3)
    frame = pd.DataFrame(cov, index=list(STATE), columns=list(STATE))
    from_frame = MonteCarlo(5, {STATE: ("mvnormal", MEAN, frame)}, seed=3)
    assert canon(from_frame.iter_runs()) == canon(reference.iter_runs())
    for path in (plain, named, indexed, npy):
        assert read_covariance(path) == cov.tolist()
        design = MonteCarlo(5, {STATE: ("mvnormal", MEAN, str(path))}, seed=3)
        assert canon(design.iter_runs()) == canon(reference.iter_runs())
        # The header holds the matrix, not the file: the sweep resumes without it.
        assert design.to_header()["groups"][0]["cov"] == cov.tolist()
        path.unlink()
        assert canon(via_json(design).iter_runs()) == canon(reference.iter_runs())


def test_covariance_file_errors(tmp_path: Path) -> None:
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("A.y,A.x\n1,0\n0,1\n")
    with pytest.raises(DesignError, match="columns are \\['A.y', 'A.x'\\], not the group's"):
        MonteCarlo(3, {("A.x", "A.y"): ("mvnormal", [0, 0], swapped)}, seed=1)
    frame = pd.DataFrame(np.eye(2), columns=["A.y", "A.x"])
    with pytest.raises(DesignError, match="columns are \\['A.y', 'A.x'\\], not the group's"):
        MonteCarlo(3, {("A.x", "A.y"): ("mvnormal", [0, 0], frame)}, seed=1)
    text = tmp_path / "text.csv"
    text.write_text("1,0\n0,one\n")
    with pytest.raises(DesignError, match="line 2 holds 'one', which is not a number"):
        read_covariance(text)
    cube = tmp_path / "cube.npy"
    np.save(cube, np.zeros((2, 2, 2)))
    with pytest.raises(DesignError, match="holds a float64 array of shape \\(2, 2, 2\\)"):
        read_covariance(cube)


# --- pointing (burn) errors -----------------------------------------------------------

NOMINAL = [0.01, -0.02, 0.005]  # km/s, in no particular axis


def test_burn_errors_have_the_magnitude_and_angle_statistics_asked_for() -> None:
    n, s_mag, s_deg = 4000, 0.02, 2.0
    design = MonteCarlo(n, {BURN: ("pointing", NOMINAL, s_mag, s_deg)}, seed=21)
    v, v0 = draws(design, BURN), np.array(NOMINAL)
    ratio = np.linalg.norm(v, axis=1) / np.linalg.norm(v0)
    assert abs(ratio.mean() - 1) < 5 * s_mag / math.sqrt(n)
    assert abs(ratio.std(ddof=1) - s_mag) < 5 * s_mag / math.sqrt(2 * n)
    unit, u0 = v / np.linalg.norm(v, axis=1)[:, None], v0 / np.linalg.norm(v0)
    theta = np.arccos(np.clip(unit @ u0, -1, 1))
    sigma = math.radians(s_deg)
    # Rayleigh with scale sigma: E[theta^2] = 2 sigma^2, theta^2 / (2 sigma^2) ~ Exp(1).
    assert abs((theta**2).mean() / (2 * sigma**2) - 1) < 5 / math.sqrt(n)
    assert abs(theta.mean() - sigma * math.sqrt(math.pi / 2)) < 5 * sigma * 0.655 / math.sqrt(n)
    assert st.kstest(theta, "rayleigh", args=(0, sigma)).pvalue > 1e-3
    # The azimuth, measured in a basis of our own, is uniform.
    a = np.cross(u0, [0.0, 0.0, 1.0])
    a /= np.linalg.norm(a)
    b = np.cross(u0, a)
    phi = np.arctan2(unit @ b, unit @ a)
    assert st.kstest(phi, "uniform", args=(-math.pi, 2 * math.pi)).pvalue > 1e-3
    assert abs(np.cos(phi).mean()) < 5 * math.sqrt(0.5 / n)
    assert abs(np.sin(phi).mean()) < 5 * math.sqrt(0.5 / n)
    # Magnitude and pointing errors are independent.
    assert abs(np.corrcoef(ratio, theta)[0, 1]) < 5 / math.sqrt(n)


def test_burn_errors_follow_the_documented_formula_bit_for_bit() -> None:
    design = MonteCarlo(40, {BURN: ("pointing", NOMINAL, 0.01, 0.5)}, seed=4)
    x, y, z = NOMINAL
    norm = math.sqrt(x * x + y * y + z * z)
    n = [c / norm for c in NOMINAL]
    # The axis of n's smallest component is z: e1 = unit(n x z), e2 = n x e1.
    e1 = [n[1], -n[0], 0.0]
    length = math.sqrt(e1[0] * e1[0] + e1[1] * e1[1] + e1[2] * e1[2])
    e1 = [c / length for c in e1]
    e2 = [n[1] * e1[2] - n[2] * e1[1], n[2] * e1[0] - n[0] * e1[2], n[0] * e1[1] - n[1] * e1[0]]
    key = parameter_key(",".join(BURN))
    for run_id, overrides, _ in design.iter_runs():
        ss = np.random.SeedSequence(entropy=4, spawn_key=(run_id, key))
        u0, u1, u2 = np.random.default_rng(ss).random(3).tolist()
        theta = math.radians(0.5) * math.sqrt(-2.0 * math.log1p(-u1))
        phi = 2.0 * math.pi * u2
        m = norm * (1.0 + 0.01 * float(ndtri(u0)))
        ct, sn, cp, sp = math.cos(theta), math.sin(theta), math.cos(phi), math.sin(phi)
        expected = [m * (ct * n[c] + sn * (cp * e1[c] + sp * e2[c])) for c in range(3)]
        assert [overrides[f] for f in BURN] == expected


def test_velocity_errors_about_a_nominal_velocity() -> None:
    vel = ("Sat.VX", "Sat.VY", "Sat.VZ")
    x = draws(MonteCarlo(500, {vel: ("pointing", [0.0, 7.5, 0.0], 0.0, 0.01)}, seed=3), vel)
    assert np.allclose(np.linalg.norm(x, axis=1), 7.5, rtol=1e-14, atol=0)  # no magnitude error
    assert 0 < np.abs(x[:, 0]).max() < 7.5 * math.radians(0.01) * 10


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (("pointing", [0, 0, 0], 0.01, 1.0), "the nominal vector is zero"),
        (("pointing", [1, 0], 0.01, 1.0), "nominal vector needs 3 numbers"),
        (("pointing", [1, 0, 0], -0.01, 1.0), "0 <= magnitude_sigma_rel <= 0.2"),
        (("pointing", [1, 0, 0], 0.3, 1.0), "0 <= magnitude_sigma_rel <= 0.2"),
        (("pointing", [1, 0, 0], 0.01, 25.0), "0 <= angle_sigma_deg <= 20"),
        (("pointing", [1, 0, 0], 0, 0), "both sigmas are zero"),
        (("pointing", [1, 0, 0], 0.01), "write \\('pointing', nominal_vector"),
    ],
)
def test_pointing_errors(spec: Any, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        MonteCarlo(3, {BURN: spec}, seed=1)


# --- the seed contract with groups ----------------------------------------------------


def test_a_group_follows_the_documented_stream_bit_for_bit() -> None:
    cov = state_cov()
    design = MonteCarlo(50, {STATE: ("mvnormal", MEAN, cov)}, seed=2**70 + 1)
    f = covariance_factor(design.to_header()["groups"][0]["cov"])
    key = group_key(STATE)
    assert key == parameter_key("Sat.X,Sat.Y,Sat.Z,Sat.VX,Sat.VY,Sat.VZ")
    for run_id, overrides, _ in design.iter_runs():
        ss = np.random.SeedSequence(entropy=2**70 + 1, spawn_key=(run_id, key))
        z = ndtri(np.random.default_rng(ss).random(6)).tolist()
        for j, field in enumerate(STATE):
            x = MEAN[j]
            for c in range(len(f[j])):
                x = x + f[j][c] * z[c]
            assert overrides[field] == x


def test_adding_a_group_or_a_field_leaves_every_other_draw_unchanged() -> None:
    single = {"Sat.SMA": ("normal", 7000.0, 5.0), "Coast": st.truncnorm(-2, 2, loc=600, scale=30)}
    state = {STATE: ("mvnormal", MEAN, state_cov())}
    burn = {BURN: ("pointing", NOMINAL, 0.01, 1.0)}
    everything = MonteCarlo(300, {**burn, "Sat.INC": ("uniform", 28, 29), **state, **single}, 9)
    for part in (single, state, burn, {**single, **burn}):
        alone = MonteCarlo(300, part, seed=9)
        for run_id in range(300):
            got = everything.overrides(run_id)
            assert {p: got[p] for p in alone.parameters} == alone.overrides(run_id)
    # Changing a group's fields changes that group's draws, and only them.
    other = MonteCarlo(300, {**single, ("Sat.X", "Sat.Y"): ("mvnormal", [0, 0], GOOD)}, seed=9)
    first = MonteCarlo(300, {**single, ("Sat.Y", "Sat.X"): ("mvnormal", [0, 0], GOOD)}, seed=9)
    assert other.overrides(0)["Sat.X"] != first.overrides(0)["Sat.X"]
    assert other.overrides(0)["Sat.SMA"] == first.overrides(0)["Sat.SMA"]


def test_draws_do_not_depend_on_batching_and_a_larger_sweep_extends_a_smaller() -> None:
    perturb = {STATE: ("mvnormal", MEAN, state_cov()), BURN: ("pointing", NOMINAL, 0.01, 1.0)}
    n = CHUNK + 37
    small = MonteCarlo(n, perturb, seed=77)
    every = canon(small.iter_runs())
    assert canon((i, small.overrides(i), small.seed_for(i)) for i in range(n)) == every
    pieces = [r for a in range(0, n, 300) for r in small.iter_runs(a, min(a + 300, n))]
    assert canon(pieces) == every
    bigger = extended(small, 3 * n)
    assert canon(bigger.iter_runs(0, n)) == every
    assert canon(MonteCarlo(3 * n, perturb, seed=77).iter_runs()) == canon(bigger.iter_runs())


def test_header_records_every_group_and_round_trips() -> None:
    perturb = {
        "Sat.SMA": ("normal", 7000.0, 5.0),
        STATE: ("mvnormal", np.array(MEAN), state_cov()),
        "Coast": st.truncnorm(-2, 2, loc=600, scale=30),
        BURN: ("pointing", np.array(NOMINAL), 0.01, 1.0),
    }
    design = MonteCarlo(20, perturb)  # unseeded: the drawn seed is recorded
    header = design.to_header()
    assert header["seed_scheme"] == SEED_SCHEME_GROUPS
    assert header["parameters"] == ["Sat.SMA", *STATE, "Coast", *BURN]
    assert [g["fields"] for g in header["groups"]] == [list(STATE), list(BURN)]
    assert (
        header["groups"][0]["mean"] == MEAN and header["groups"][0]["cov"] == state_cov().tolist()
    )
    assert header["groups"][1] == {
        "fields": list(BURN),
        "family": "pointing",
        "nominal": NOMINAL,
        "magnitude_sigma_rel": 0.01,
        "angle_sigma_deg": 1.0,
    }
    rebuilt = via_json(design)
    assert rebuilt == design and rebuilt.parameters == design.parameters
    assert canon(rebuilt.iter_runs()) == canon(design.iter_runs())
    assert list(design.overrides(0)) == header["parameters"]
    # Without groups the header is as before (old manifests resume, old readers read it).
    plain = MonteCarlo(3, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=1).to_header()
    assert plain["seed_scheme"] == SEED_SCHEME and "groups" not in plain


def test_a_header_with_an_unknown_group_family_is_refused() -> None:
    header = MonteCarlo(3, {BURN: ("pointing", NOMINAL, 0.01, 1.0)}, seed=1).to_header()
    header["groups"][0]["family"] = "cone"
    with pytest.raises(DesignError, match="unknown group family 'cone'.*mvnormal, pointing"):
        design_from_header(header)


_CHILD = """
import json, sys
import numpy as np
from gmat_sweep.designs import MonteCarlo
cov = (np.arange(9.0).reshape(3, 3) + 1) @ (np.arange(9.0).reshape(3, 3) + 1).T + np.eye(3)
d = MonteCarlo(1100, {("A.x", "A.y", "A.z"): ("mvnormal", [1, 2, 3], cov),
                      ("B.E1", "B.E2", "B.E3"): ("pointing", [0.1, 0.2, 0.3], 0.05, 3.0)}, seed=6)
out = [[i, [[k, repr(v)] for k, v in ov.items()]] for i, ov, _ in d.iter_runs()]
json.dump(out, sys.stdout)
"""


def test_same_seed_same_group_values_in_a_fresh_process() -> None:
    child = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=120
    )
    here: dict[str, Any] = {}
    exec(_CHILD.replace("json.dump(out, sys.stdout)", ""), here)
    assert json.loads(child.stdout) == json.loads(json.dumps(here["out"]))


# --- the command-line grammar ---------------------------------------------------------


def test_perturb_grammar_for_groups() -> None:
    parsed = parse_perturbations(
        [
            "Sat.SMA=normal:7000:5",
            "Sat.X,Sat.Y=mvnormal:7000,0.5:C:\\data\\cov.csv",
            "Burn.Element1, Burn.Element2, Burn.Element3=pointing:0.02,0,0:0.01:0.5",
        ]
    )
    assert parsed == {
        "Sat.SMA": ("normal", 7000.0, 5.0),
        ("Sat.X", "Sat.Y"): ("mvnormal", [7000.0, 0.5], "C:\\data\\cov.csv"),
        BURN: ("pointing", [0.02, 0.0, 0.0], 0.01, 0.5),
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("A.x,A.y=mvnormal:0,0", "expected mvnormal:M1,M2,...:COVFILE"),
        ("A.x,A.y=mvnormal:0,x:cov.csv", "'x' is not a number"),
        ("A.x,A.y,A.z=pointing:1,0,0:0.1", "pointing:X,Y,Z:SIGMA_REL:SIGMA_DEG"),
        ("A.x,A.y=normal:0:1", "expected mvnormal"),
        ("A.x=mvnormal:0:cov.csv", "mvnormal draws a group: name its fields as N1,N2,...="),
    ],
)
def test_perturb_grammar_errors(text: str, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        parse_perturbations([text])


def test_perturb_grammar_refuses_a_group_given_twice() -> None:
    twice = ["A.x,A.y=mvnormal:0,0:c.csv", "A.x,A.y=mvnormal:1,1:c.csv"]
    with pytest.raises(DesignError, match="--perturb A.x,A.y is given twice"):
        parse_perturbations(twice)
