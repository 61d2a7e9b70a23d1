"""Tests of gmat_sweep.designs: every rule, every error, the seed contract."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
from scipy.special import ndtri

from gmat_sweep import designs
from gmat_sweep.designs import (
    SEED_SCHEME,
    Design,
    Grid,
    LatinHypercube,
    MonteCarlo,
    Samples,
    design_from_header,
    extended,
    parameter_key,
)
from gmat_sweep.errors import DesignError, GmatSweepError, SweepConfigError

SRC = Path(designs.__file__).resolve().parents[1]
PERTURB: dict[str, Any] = {
    "Sat.SMA": ("normal", 7000.0, 10.0),
    "Sat.ECC": ("uniform", 0.0, 0.01),
    "Burn.Element1": ("lognormal", -3.0, 0.2),
}


def canon(runs: Any) -> list[Any]:
    """Runs with every value as (type name, repr): equal iff bit-identical."""
    return [
        (i, [(k, type(v).__name__, repr(v)) for k, v in ov.items()], seed) for i, ov, seed in runs
    ]


def via_json(design: Design, **kw: Any) -> Design:
    header = json.loads(json.dumps(design.to_header(), sort_keys=True))
    return design_from_header(header, **kw)


def ref_uniform(seed: int, run_id: int, name: str) -> float:
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(run_id, parameter_key(name)))
    return float(np.random.default_rng(ss).random())


def ref_uniform_key(seed: int, run_id: int, key: int) -> float:
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(run_id, key))
    return float(np.random.default_rng(ss).random())


def ref_seed(seed: int, run_id: int) -> int:
    w = np.random.SeedSequence(entropy=seed, spawn_key=(run_id,)).generate_state(2, np.uint32)
    return int(w[0]) | (int(w[1]) << 32)


# --- basics ---------------------------------------------------------------------------


def test_design_error_is_a_config_error() -> None:
    assert issubclass(DesignError, SweepConfigError)
    assert issubclass(DesignError, GmatSweepError)


def test_import_is_light() -> None:
    code = (
        "import sys, gmat_sweep.designs\n"
        "heavy = [m for m in ('numpy', 'scipy', 'pandas', 'pyarrow') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_parameter_key_is_sha256_prefix_and_process_independent() -> None:
    expected = int.from_bytes(hashlib.sha256(b"Sat.SMA").digest()[:4], "big")
    assert parameter_key("Sat.SMA") == expected
    assert 0 <= parameter_key("TOF") < 2**32
    code = "from gmat_sweep.designs import parameter_key; print(parameter_key('Sat.SMA'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(PYTHONHASHSEED="12345"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(out.stdout) == expected


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


# --- the streams are numpy's own SeedSequence draws --------------------------------


@pytest.mark.parametrize("seed", [0, 42, 2**64 + 3, 2**200 + 7])
def test_streams_equal_numpy(seed: int) -> None:
    for a, b in [(0, 40), (1020, 1030)]:
        for key in (0, parameter_key("Sat.SMA"), 2**32 - 1):
            u = designs._draws(seed, a, b, key)
            assert u.tolist() == [ref_uniform_key(seed, i, key) for i in range(a, b)]
        seeds = designs._draws(seed, a, b, None).tolist()
        assert seeds == [ref_seed(seed, i) for i in range(a, b)]


# --- names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Sat.SMA", "TOF", "_x", "Sat.Thruster1.Element_2", "A1.b2"])
def test_valid_names(name: str) -> None:
    assert Grid({name: [1]}).parameters == (name,)


@pytest.mark.parametrize(
    "name", ["", " ", "Sat SMA", "1Sat.SMA", "Sat.", ".SMA", "Sat..SMA", "Sat.1A", "Sat-SMA", 3]
)
def test_invalid_names(name: Any) -> None:
    with pytest.raises(DesignError, match=r"is not a GMAT field path.*'Sat\.SMA'.*'TOF'"):
        Grid({name: [1.0]})
    with pytest.raises(DesignError, match="is not a GMAT field path"):
        MonteCarlo(2, {name: ("normal", 0.0, 1.0)}, seed=1)


# --- Grid -----------------------------------------------------------------------------


def test_grid_is_itertools_product_order() -> None:
    params: dict[str, list[Any]] = {
        "Sat.SMA": [7000.0, 7100.0, 7200.0],
        "Sat.ECC": [0.0, 0.1],
        "TOF": [1, 2],
    }
    g = Grid(params)
    assert len(g) == 12 and g.kind == "grid" and g.parameters == ("Sat.SMA", "Sat.ECC", "TOF")
    expected = [
        dict(zip(params, combo, strict=True)) for combo in itertools.product(*params.values())
    ]
    runs = list(g.iter_runs())
    assert [ov for _, ov, _ in runs] == expected
    assert [i for i, _, _ in runs] == list(range(12))
    assert all(seed is None for _, _, seed in runs)
    assert [g.overrides(i) for i in range(12)] == expected
    assert g.seed is None and g.seed_for(5) is None
    assert [list(ov) for _, ov, _ in runs] == [list(params)] * 12  # keys in parameter order


def test_grid_iter_runs_slices() -> None:
    g = Grid({"A.x": list(range(7)), "B.y": list(range(300)), "C": ["p", "q"]})
    full = canon(g.iter_runs())
    assert canon(g.iter_runs(1000, 2500)) == full[1000:2500]
    assert canon(g.iter_runs(4199)) == full[4199:]
    assert list(g.iter_runs(5, 5)) == []
    assert len(full) == 4200


def test_grid_converts_numpy_to_plain_python() -> None:
    g = Grid(
        {
            "A.f": np.array([1.5, 2.5]),
            "A.i": np.arange(2, dtype=np.int32),
            "A.b": np.array([True, False]),
            "A.s": np.array(["x", "y"]),
            "A.m": [np.float32(0.25), np.int64(7)],
        }
    )
    for _, ov, _ in g.iter_runs():
        assert type(ov["A.f"]) is float and type(ov["A.i"]) is int
        assert type(ov["A.b"]) is bool and type(ov["A.s"]) is str
        assert type(ov["A.m"]) in (float, int)
    assert g.overrides(0) == {"A.f": 1.5, "A.i": 0, "A.b": True, "A.s": "x", "A.m": 0.25}
    assert Grid({"T": range(3)}).overrides(2) == {"T": 2}
    assert dict(g.values)["A.i"] == (0, 1) and type(g.values["A.f"][0]) is float
    with pytest.raises(TypeError):
        g.values["A.i"] = (5,)  # type: ignore[index]


def test_grid_bool_and_int_are_distinct_values() -> None:
    assert len(Grid({"A.x": [True, 1, False, 0]})) == 4


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({}, "a grid needs at least one parameter.*Grid\\(\\{'Sat.SMA'"),
        ([("Sat.SMA", [1])], "a grid needs at least one parameter"),
        ({"Sat.SMA": []}, "'Sat.SMA' has no values; give it at least one"),
        ({"Sat.SMA": np.array([])}, "'Sat.SMA' has no values"),
        ({"Sat.SMA": [7000.0, float("nan")]}, "'Sat.SMA' value #1 is nan; GMAT needs finite"),
        ({"Sat.SMA": np.array([np.inf])}, "value #0 is inf; GMAT needs finite"),
        ({"Sat.SMA": [1.0, -math.inf]}, "value #1 is -inf"),
        ({"Sat.SMA": [7000.0, 7100.0, 7000.0]}, "lists 7000.0 twice \\(positions 0 and 2\\)"),
        ({"Sat.SMA": [1, 1.0]}, "lists 1.0 twice.*remove the duplicate"),
        ({"Sat.Name": ["a", "a"]}, "lists 'a' twice"),
        ({"Sat.SMA": "7000"}, "needs an ordered list of values such as \\[7000.0, 7100.0\\]"),
        ({"Sat.SMA": 7000.0}, "needs an ordered list of values"),
        ({"Sat.SMA": {7000.0, 7100.0}}, "needs an ordered list of values"),
        ({"Sat.SMA": {"a": 1}}, "needs an ordered list of values"),
        ({"Sat.SMA": np.array(5.0)}, "needs an ordered list of values.*got array\\(5\\.\\)"),
        ({"Sat.SMA": None}, "needs an ordered list of values"),
        ({"Sat.SMA": [None]}, "value #0 is None \\(NoneType\\); use numbers, strings or booleans"),
        ({"Sat.SMA": [[1, 2]]}, "value #0 is \\[1, 2\\] \\(list\\)"),
        ({"Sat.SMA": np.array([[1.0, 2.0]])}, "\\(list\\); use numbers"),
    ],
)
def test_grid_errors(params: Any, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        Grid(params)


def test_grid_header_round_trip() -> None:
    g = Grid({"Sat.SMA": [7000.1, -0.0, 1e-310, 2.0**60], "TOF": [1, 2**70], "Z": ["a", True]})
    header = g.to_header()
    assert header == {
        "kind": "grid",
        "n": 16,
        "parameters": ["Sat.SMA", "TOF", "Z"],
        "seed": None,
        "values": {"Sat.SMA": [7000.1, -0.0, 1e-310, 2.0**60], "TOF": [1, 2**70], "Z": ["a", True]},
    }
    back = via_json(g)
    assert isinstance(back, Grid) and back == g
    assert canon(back.iter_runs()) == canon(g.iter_runs())
    # parameter order survives sort_keys (B before A here)
    g2 = Grid({"B.y": [1, 2], "A.x": [3, 4]})
    assert via_json(g2).parameters == ("B.y", "A.x")
    assert canon(via_json(g2).iter_runs()) == canon(g2.iter_runs())


def test_grid_of_ten_million_runs_is_lazy() -> None:
    g = Grid({"A.x": range(100), "B.y": np.arange(100.0), "C.z": range(1000)})
    assert len(g) == 10**7
    tracemalloc.start()
    try:
        it = g.iter_runs()
        first = next(it)
        assert first == (0, {"A.x": 0, "B.y": 0.0, "C.z": 0}, None)
        for _ in range(5000):
            next(it)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20  # 10 MiB: nowhere near materialising 10^7 runs
    assert g.overrides(10**7 - 1) == {"A.x": 99, "B.y": 99.0, "C.z": 999}
    assert g.overrides(123_456) == {"A.x": 1, "B.y": 23.0, "C.z": 456}
    assert g.overrides(1_234_567) == {"A.x": 12, "B.y": 34.0, "C.z": 567}


# --- run id and range errors ----------------------------------------------------------


@pytest.mark.parametrize("run_id", [-1, 6, True, "3", 2.0])
def test_run_id_out_of_range(run_id: Any) -> None:
    g = Grid({"A.x": [1, 2, 3], "B": [1, 2]})
    with pytest.raises(DesignError, match=r"outside this grid design of 6 runs \(valid: 0..5\)"):
        g.overrides(run_id)
    with pytest.raises(DesignError, match="outside this grid design"):
        g.seed_for(run_id)


@pytest.mark.parametrize(("start", "stop"), [(-1, None), (0, 7), (7, None), (True, 3), (0, 2.0)])
def test_iter_runs_range_errors(start: Any, stop: Any) -> None:
    g = Grid({"A.x": [1, 2, 3], "B": [1, 2]})
    with pytest.raises(DesignError, match=r"is outside 0\.\.6, the runs of this grid design"):
        g.iter_runs(start, stop)  # raised at call time, not at first next()


# --- Samples --------------------------------------------------------------------------


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    floats = rng.normal(7000.0, 100.0, 6)
    floats[1], floats[2] = -0.0, 5e-324
    frame: pd.DataFrame = pd.DataFrame(
        {
            "Sat.SMA": floats,
            "Sat.ECC": np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], dtype=np.float32),
            "Burn.N": np.array([1, 2, 3, 4, 5, 2**40], dtype=np.int64),
            "Small.N": np.array([1, 2, 3, 4, 5, 6], dtype=np.int32),
            "Sat.On": [True, False, True, True, False, False],
            "Sat.Name": pd.array(["a", "bé", "c", "", "e e", "f"], dtype="str"),
            "Obj.Name": np.array(["x", "y", "z", "u", "v", "w"], dtype=object),
            "Null.N": pd.array([1, 2, 3, 4, 5, 6], dtype="Int64"),
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    return frame


def test_samples_one_run_per_row_by_position() -> None:
    t = _table()
    s = Samples(t)
    assert len(s) == 6 and s.kind == "samples" and s.seed is None
    assert s.parameters == tuple(t.columns)
    runs = list(s.iter_runs())
    assert [i for i, _, _ in runs] == list(range(6))
    assert runs[1][1]["Sat.SMA"] == 0.0 and math.copysign(1, runs[1][1]["Sat.SMA"]) == -1
    assert runs[5][1] == {
        "Sat.SMA": float(t["Sat.SMA"].iloc[5]),
        "Sat.ECC": float(np.float32(0.6)),
        "Burn.N": 2**40,
        "Small.N": 6,
        "Sat.On": False,
        "Sat.Name": "f",
        "Obj.Name": "w",
        "Null.N": 6,
    }
    for _, ov, seed in runs:
        assert seed is None
        assert [type(v) for v in ov.values()] == [float, float, int, int, bool, str, str, int]
    assert canon((i, s.overrides(i), None) for i in range(6)) == canon(runs)
    assert canon(s.iter_runs(2, 4)) == canon(runs)[2:4]


def test_samples_copies_the_table() -> None:
    t = pd.DataFrame({"A.x": [1.0, 2.0]})
    s = Samples(t)
    t.loc[0, "A.x"] = 99.0
    assert s.overrides(0) == {"A.x": 1.0}


def test_samples_parquet_round_trip_preserves_dtypes_and_bits(tmp_path: Path) -> None:
    s = Samples(_table())
    header = s.to_header()
    assert header["kind"] == "samples" and header["n"] == 6 and header["seed"] is None
    assert header["parameters"] == list(_table().columns)
    assert header["dtypes"] == {
        "Sat.SMA": "float64",
        "Sat.ECC": "float32",
        "Burn.N": "int64",
        "Small.N": "int32",
        "Sat.On": "bool",
        "Sat.Name": "str",
        "Obj.Name": "str",
        "Null.N": "int64",
    }
    assert len(header["sha256"]) == 64
    path = tmp_path / "design.parquet"
    s.write_table(path)
    back_frame = pd.read_parquet(path)
    assert str(back_frame["Small.N"].dtype) == "int32"
    assert str(back_frame["Sat.ECC"].dtype) == "float32"
    assert back_frame["Sat.SMA"].to_numpy().tobytes() == _table()["Sat.SMA"].to_numpy().tobytes()
    back = via_json(s, table_path=path)
    assert isinstance(back, Samples) and back == s
    assert canon(back.iter_runs()) == canon(s.iter_runs())


def test_samples_from_header_errors(tmp_path: Path) -> None:
    s = Samples(_table())
    header = json.loads(json.dumps(s.to_header()))
    with pytest.raises(DesignError, match="Parquet file beside the manifest; pass table_path="):
        design_from_header(header)
    with pytest.raises(DesignError, match="cannot read the samples table"):
        design_from_header(header, table_path=tmp_path / "missing.parquet")
    changed = _table()
    changed.loc[12, "Sat.SMA"] = 1.0
    Samples(changed).write_table(tmp_path / "changed.parquet")
    with pytest.raises(DesignError, match="differs from the one this manifest was written with"):
        design_from_header(header, table_path=tmp_path / "changed.parquet")
    Samples(_table().drop(columns=["Sat.On"])).write_table(tmp_path / "fewer.parquet")
    with pytest.raises(DesignError, match=r"has columns .* not \['Sat\.SMA'"):
        design_from_header(header, table_path=tmp_path / "fewer.parquet")


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ([{"A.x": 1}], "Samples needs a pandas DataFrame.*got list"),
        (pd.DataFrame({"A.x": []}), "one row per run.*shape \\(0, 1\\)"),
        (pd.DataFrame(index=[0, 1]), "one column per parameter.*shape \\(2, 0\\)"),
        (pd.DataFrame([[1, 2]], columns=["A.x", "A.x"]), "repeats the columns \\['A.x'\\]"),
        (pd.DataFrame({"": [1]}), "samples column '' is not a GMAT field path"),
        (pd.DataFrame({"  ": [1]}), "samples column '  ' is not a GMAT field path"),
        (pd.DataFrame({0: [1]}), "samples column 0 is not a GMAT field path"),
        (pd.DataFrame({"Sat SMA": [1]}), "'Sat SMA' is not a GMAT field path"),
        (
            pd.DataFrame({"A.x": [1.0, np.nan]}),
            "'A.x' .*missing or non-finite values at rows \\[1\\]",
        ),
        (pd.DataFrame({"A.x": [np.inf, 1.0, -np.inf]}), "non-finite values at rows \\[0, 2\\]"),
        (pd.DataFrame({"A.x": ["a", None]}), "missing or non-finite values at rows \\[1\\]"),
        (
            pd.DataFrame({"A.x": pd.array([1, None], dtype="Int64")}),
            "at rows \\[1\\]; fill or drop",
        ),
        (
            pd.DataFrame({"A.x": np.array(["a", 1], dtype=object)}),
            "must hold only integers, floats",
        ),
        (pd.DataFrame({"A.x": pd.to_datetime(["2026-01-01"])}), "\\(datetime64.*must hold only"),
        (pd.DataFrame({"A.x": [1 + 2j]}), "\\(complex128\\) must hold only"),
    ],
)
def test_samples_errors(table: Any, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        Samples(table)


# --- Monte Carlo ----------------------------------------------------------------------


def test_monte_carlo_follows_the_seed_contract() -> None:
    perturb = {**PERTURB, "Sat.INC": st.truncnorm(-2, 2, loc=28.5, scale=0.1)}
    mc = MonteCarlo(2100, perturb, seed=2024)
    assert mc.kind == "monte_carlo" and len(mc) == 2100 and mc.seed == 2024
    runs = list(mc.iter_runs())
    for i in [0, 1, 1023, 1024, 1025, 2047, 2048, 2099]:
        run_id, ov, seed = runs[i]
        assert run_id == i
        u = {p: ref_uniform(2024, i, p) for p in perturb}
        assert ov["Sat.SMA"] == 7000.0 + 10.0 * float(ndtri(u["Sat.SMA"]))
        assert ov["Sat.ECC"] == 0.0 + (0.01 - 0.0) * u["Sat.ECC"]
        assert ov["Burn.Element1"] == math.exp(-3.0 + 0.2 * float(ndtri(u["Burn.Element1"])))
        assert ov["Sat.INC"] == float(perturb["Sat.INC"].ppf(u["Sat.INC"]))
        assert seed == ref_seed(2024, i) == mc.seed_for(i)
        assert canon([(i, mc.overrides(i), mc.seed_for(i))]) == canon([runs[i]])
        assert [type(v) for v in ov.values()] == [float] * 4 and type(seed) is int
        assert list(ov) == list(perturb)
    assert canon(mc.iter_runs(1000, 1100)) == canon(runs[1000:1100])


def test_monte_carlo_distributions_look_right() -> None:
    mc = MonteCarlo(4000, PERTURB, seed=5)
    cols = {p: np.array([ov[p] for _, ov, _ in mc.iter_runs()]) for p in PERTURB}
    assert abs(cols["Sat.SMA"].mean() - 7000.0) < 1.0 and abs(cols["Sat.SMA"].std() - 10) < 0.5
    assert cols["Sat.ECC"].min() >= 0.0 and cols["Sat.ECC"].max() < 0.01
    assert abs(np.log(cols["Burn.Element1"]).mean() + 3.0) < 0.02
    assert st.kstest(cols["Sat.SMA"], st.norm(7000.0, 10.0).cdf).pvalue > 1e-3


def test_monte_carlo_extend_property() -> None:
    small, big = MonteCarlo(40, PERTURB, seed=11), MonteCarlo(50, PERTURB, seed=11)
    assert canon(small.iter_runs()) == canon(big.iter_runs(0, 40))
    bigger = MonteCarlo(3000, PERTURB, seed=11)
    assert canon(bigger.iter_runs(0, 50)) == canon(big.iter_runs())
    ext = extended(small, 3000)
    assert isinstance(ext, MonteCarlo) and ext == bigger and ext.seed == 11
    assert canon(ext.iter_runs(2990)) == canon(bigger.iter_runs(2990))
    assert len(extended(small, 40)) == 40


def test_monte_carlo_extend_keeps_a_drawn_seed_and_scipy_dists() -> None:
    mc = MonteCarlo(10, {"A.x": st.gamma(2.0, scale=3.0)})
    ext = extended(mc, 20)
    assert ext.seed == mc.seed
    assert canon(ext.iter_runs(0, 10)) == canon(mc.iter_runs())


@pytest.mark.parametrize(
    ("design", "n_total", "match"),
    [
        (Grid({"A.x": [1, 2]}), 4, "extend applies to Monte Carlo sweeps only, not to a grid"),
        (LatinHypercube(4, {"A.x": (0, 1)}, seed=1), 8, "only, not to a latin_hypercube design"),
        (Samples(pd.DataFrame({"A.x": [1]})), 2, "not to a samples design; start a new sweep"),
        (MonteCarlo(40, PERTURB, seed=1), 39, "n_total=39 is below the 40 runs already there"),
        (MonteCarlo(40, PERTURB, seed=1), True, "n_total must be a whole number >= 1"),
        (MonteCarlo(40, PERTURB, seed=1), 50.0, "n_total must be a whole number >= 1"),
    ],
)
def test_extend_errors(design: Design, n_total: Any, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        extended(design, n_total)


def test_adding_a_parameter_keeps_the_others_draws() -> None:
    one = MonteCarlo(1500, {"Sat.SMA": ("normal", 7000.0, 10.0)}, seed=99)
    three = MonteCarlo(1500, {"Z.new": ("uniform", 0, 1), **PERTURB}, seed=99)
    a = [ov["Sat.SMA"] for _, ov, _ in one.iter_runs()]
    b = [ov["Sat.SMA"] for _, ov, _ in three.iter_runs()]
    assert a == b
    assert [s for *_, s in one.iter_runs()] == [s for *_, s in three.iter_runs()]
    lhs1 = LatinHypercube(300, {"Sat.SMA": (6900.0, 7100.0)}, seed=99)
    lhs2 = LatinHypercube(300, {"B.b": ("normal", 0, 1), "Sat.SMA": (6900.0, 7100.0)}, seed=99)
    assert [ov["Sat.SMA"] for _, ov, _ in lhs1.iter_runs()] == [
        ov["Sat.SMA"] for _, ov, _ in lhs2.iter_runs()
    ]


def test_different_seeds_differ_same_seed_repeats() -> None:
    a = [ov["Sat.SMA"] for _, ov, _ in MonteCarlo(100, PERTURB, seed=1).iter_runs()]
    b = [ov["Sat.SMA"] for _, ov, _ in MonteCarlo(100, PERTURB, seed=2).iter_runs()]
    c = [ov["Sat.SMA"] for _, ov, _ in MonteCarlo(100, PERTURB, seed=1).iter_runs()]
    assert a == c and len(set(a) & set(b)) == 0
    assert MonteCarlo(5, PERTURB, seed=1).seed_for(0) != MonteCarlo(5, PERTURB, seed=2).seed_for(0)
    assert len({ov["Sat.SMA"] for _, ov, _ in MonteCarlo(100, PERTURB, seed=1).iter_runs()}) == 100


def test_unseeded_draws_a_recorded_seed() -> None:
    a, b = MonteCarlo(20, PERTURB), MonteCarlo(20, PERTURB)
    assert isinstance(a.seed, int) and a.seed > 2**64 and a.seed != b.seed
    assert a.to_header()["seed"] == a.seed
    assert canon(via_json(a).iter_runs()) == canon(a.iter_runs())
    assert canon(a.iter_runs()) != canon(b.iter_runs())
    lhs = LatinHypercube(20, {"A.x": (0, 1)})
    assert isinstance(lhs.seed, int) and canon(via_json(lhs).iter_runs()) == canon(lhs.iter_runs())


def test_monte_carlo_header_round_trip() -> None:
    perturb = {
        "B.y": ["normal", 0, 1],  # lists and ints are fine; parameter order survives sort_keys
        **PERTURB,
        "Sat.INC": st.truncnorm(-2, 2, loc=28.5, scale=0.1),
        "Sat.RAAN": st.t(3),
        "Sat.AOP": st.uniform(loc=1, scale=np.float64(2.0)),
    }
    mc = MonteCarlo(1100, perturb, seed=7)
    header = mc.to_header()
    assert header["kind"] == "monte_carlo" and header["n"] == 1100 and header["seed"] == 7
    assert header["seed_scheme"] == SEED_SCHEME
    assert header["parameters"] == list(perturb)
    assert header["distributions"]["Sat.SMA"] == {"family": "normal", "mu": 7000.0, "sigma": 10.0}
    assert header["distributions"]["Sat.ECC"] == {"family": "uniform", "lo": 0.0, "hi": 0.01}
    assert header["distributions"]["Burn.Element1"]["family"] == "lognormal"
    assert header["distributions"]["Sat.INC"] == {
        "family": "scipy",
        "name": "truncnorm",
        "args": [-2.0, 2.0],
        "kwds": {"loc": 28.5, "scale": 0.1},
    }
    t3 = {"family": "scipy", "name": "t", "args": [3.0], "kwds": {}}
    assert header["distributions"]["Sat.RAAN"] == t3
    back = via_json(mc)
    assert isinstance(back, MonteCarlo) and back == mc and back.parameters == mc.parameters
    assert canon(back.iter_runs()) == canon(mc.iter_runs())


@pytest.mark.parametrize(
    ("n", "match"),
    [
        (0, "n \\(the number of monte carlo runs\\) must be a whole number >= 1; got 0"),
        (-3, "must be a whole number >= 1; got -3"),
        (True, "got True"),
        (2.0, "got 2.0"),
        ("10", "got '10'"),
        (None, "got None"),
    ],
)
def test_monte_carlo_n_errors(n: Any, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        MonteCarlo(n, PERTURB, seed=1)
    with pytest.raises(DesignError, match="number of latin hypercube runs"):
        LatinHypercube(n, {"A.x": (0, 1)}, seed=1)


def test_numpy_integers_accepted_for_n_and_seed() -> None:
    a = MonteCarlo(np.int64(5), PERTURB, seed=np.uint32(3))
    assert len(a) == 5 and a.seed == 3 and type(a.seed) is int
    assert canon(a.iter_runs()) == canon(MonteCarlo(5, PERTURB, seed=3).iter_runs())


@pytest.mark.parametrize("seed", [-1, 1.5, True, "42", [1]])
def test_seed_errors(seed: Any) -> None:
    with pytest.raises(DesignError, match="seed must be a whole number >= 0"):
        MonteCarlo(5, PERTURB, seed=seed)
    with pytest.raises(DesignError, match="seed must be a whole number >= 0"):
        LatinHypercube(5, {"A.x": (0, 1)}, seed=seed)


class _Custom(st.rv_continuous):  # type: ignore[misc]
    def _cdf(self, x: Any) -> Any:
        return st.norm.cdf(x)


@pytest.mark.parametrize(
    ("dist", "match"),
    [
        (
            ("norml", 0, 1),
            "unknown distribution 'norml'. Did you mean 'normal'\\? Known "
            "distributions: normal, uniform, lognormal, or a frozen continuous scipy.stats",
        ),
        (("Uniform", 0, 1), "Did you mean 'uniform'"),
        (("lognorm", 0, 1), "Did you mean 'lognormal'"),
        (("gaussian", 0, 1), "unknown distribution 'gaussian'. Known distributions: normal"),
        (("normal", 0), "write \\('normal', mu, sigma\\); got \\('normal', 0\\)"),
        (("uniform", 0, 1, 2), "write \\('uniform', lo, hi\\)"),
        (("normal", 0, 0), "normal needs sigma > 0"),
        (("normal", 0, -1), "normal needs sigma > 0"),
        (("lognormal", 0, 0.0), "lognormal needs sigma > 0"),
        (("uniform", 1, 1), "uniform needs lo < hi"),
        (("uniform", 2, 1), "uniform needs lo < hi"),
        (("normal", math.nan, 1), "normal mu must be a finite real number; got nan"),
        (("normal", 0, math.inf), "normal sigma must be a finite real number; got inf"),
        (("uniform", "0", 1), "uniform lo must be a finite real number; got '0'"),
        (("uniform", 0, True), "uniform hi must be a finite real number; got True"),
        ((0.0, 1.0), "is not a distribution; use \\('normal', mu, sigma\\)"),
        ("normal", "'normal' is not a distribution"),
        (None, "None is not a distribution"),
        (st.poisson(3), "poisson is discrete; only continuous ones can be drawn"),
        (st.norm(0, -1), "invalid parameters for scipy.stats.norm"),
        (st.norm(0, np.nan), "must be a finite real number"),
        (_Custom(name="custom")(), "scipy.stats has no continuous distribution 'custom'"),
        (_Custom(name="norm")(), "cannot be recorded in the manifest.*stock scipy.stats"),
        (st.norm(np.array([0.0, 1.0])), "must be a finite real number"),
    ],
)
def test_distribution_errors(dist: Any, match: str) -> None:
    with pytest.raises(DesignError, match=f"parameter 'Sat.SMA'.*{match}"):
        MonteCarlo(5, {"Sat.SMA": dist}, seed=1)


def test_new_style_scipy_distribution_is_refused_helpfully() -> None:
    if not hasattr(st, "Normal"):
        pytest.skip("scipy without the new distribution infrastructure")
    with pytest.raises(DesignError, match=r"not a distribution.*scipy\.stats\.norm\(0, 1\)"):
        MonteCarlo(5, {"Sat.SMA": st.Normal()}, seed=1)


@pytest.mark.parametrize("perturb", [{}, None, [("Sat.SMA", ("normal", 0, 1))]])
def test_monte_carlo_needs_parameters(perturb: Any) -> None:
    with pytest.raises(DesignError, match="a monte carlo design needs at least one parameter"):
        MonteCarlo(5, perturb, seed=1)


def test_monte_carlo_of_ten_million_runs_is_lazy() -> None:
    mc = MonteCarlo(10**7, PERTURB, seed=1)
    tracemalloc.start()
    try:
        it = mc.iter_runs()
        first = next(it)
        for _ in range(5000):
            next(it)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20
    assert canon([first]) == canon([(0, mc.overrides(0), mc.seed_for(0))])
    last = 10**7 - 1
    assert mc.overrides(last)["Sat.ECC"] == 0.01 * ref_uniform(1, last, "Sat.ECC")


# --- Latin hypercube ------------------------------------------------------------------


def test_latin_hypercube_follows_the_contract_and_is_stratified() -> None:
    bounds = {"Sat.SMA": (6900.0, 7100.0), "Sat.ECC": ("normal", 0.0, 1.0), "A.t": st.t(4)}
    n = 1500
    lhs = LatinHypercube(n, bounds, seed=31)
    assert lhs.kind == "latin_hypercube" and len(lhs) == n and lhs.seed == 31
    runs = list(lhs.iter_runs())
    for p, to_u in [
        ("Sat.SMA", lambda v: (v - 6900.0) / 200.0),
        ("Sat.ECC", st.norm.cdf),
        ("A.t", st.t(4).cdf),
    ]:
        values = np.array([ov[p] for _, ov, _ in runs])
        strata = np.floor(to_u(values) * n).astype(int)
        assert sorted(strata.tolist()) == list(range(n)), p  # one point per stratum
        rng = np.random.default_rng(np.random.SeedSequence(31, spawn_key=(parameter_key(p),)))
        u = st.qmc.LatinHypercube(d=1, rng=rng).random(n)[:, 0]
        assert values[:5].tolist() == _lhs_map(p, u[:5]).tolist()
    for i in [0, 1023, 1024, 1499]:
        assert runs[i][2] == ref_seed(31, i) == lhs.seed_for(i)
        assert canon([(i, lhs.overrides(i), lhs.seed_for(i))]) == canon([runs[i]])
        assert all(type(v) is float for v in runs[i][1].values())
    assert canon(lhs.iter_runs(1000, 1030)) == canon(runs[1000:1030])


def _lhs_map(p: str, u: Any) -> Any:
    if p == "Sat.SMA":
        return 6900.0 + (7100.0 - 6900.0) * u
    if p == "Sat.ECC":
        return 0.0 + 1.0 * ndtri(u)
    return st.t(4).ppf(u)


def test_latin_hypercube_bounds_equal_uniform() -> None:
    a = LatinHypercube(50, {"A.x": (2, 5)}, seed=4)
    b = LatinHypercube(50, {"A.x": ("uniform", 2, 5)}, seed=4)
    assert canon(a.iter_runs()) == canon(b.iter_runs()) and a == b


def test_latin_hypercube_header_round_trip() -> None:
    lhs = LatinHypercube(
        64, {"Z.z": (0, 1), "A.a": ("lognormal", 0, 0.5), "M.m": st.beta(2, 3)}, seed=2**100
    )
    header = lhs.to_header()
    assert header["kind"] == "latin_hypercube" and header["seed"] == 2**100
    assert header["parameters"] == ["Z.z", "A.a", "M.m"]
    assert header["distributions"]["Z.z"] == {"family": "uniform", "lo": 0.0, "hi": 1.0}
    back = via_json(lhs)
    assert isinstance(back, LatinHypercube) and back == lhs
    assert canon(back.iter_runs()) == canon(lhs.iter_runs())


@pytest.mark.parametrize(
    ("bounds", "match"),
    [
        ({"A.x": (1, 0)}, "parameter 'A.x' bounds: uniform needs lo < hi"),
        ({"A.x": (0, math.inf)}, "uniform hi must be a finite real number; got inf"),
        ({"A.x": (0,)}, "is not a distribution; use \\(lo, hi\\) bounds, \\('normal'"),
        ({"A.x": ("normall", 0, 1)}, "Did you mean 'normal'"),
        ({}, "a latin hypercube design needs at least one parameter"),
    ],
)
def test_latin_hypercube_errors(bounds: Any, match: str) -> None:
    with pytest.raises(DesignError, match=match):
        LatinHypercube(10, bounds, seed=1)


# --- headers: errors, equality --------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ({"kind": "fast", "parameters": []}, "unknown design kind 'fast'.*grid, samples.*morris"),
        ({"kind": "sobol", "parameters": []}, "malformed \\(KeyError"),
        ({"kind": "grid"}, "the design in the manifest header is malformed"),
        ({"kind": "grid", "parameters": ["A.x"], "values": {}}, "malformed \\(KeyError"),
        (
            {**MonteCarlo(3, PERTURB, seed=1).to_header(), "seed_scheme": "old"},
            "seed scheme 'old' is not 'seedseq-pcg64-sha256key-v1'; use the gmat-sweep version",
        ),
        (
            {**MonteCarlo(3, PERTURB, seed=1).to_header(), "seed": None},
            "the header's seed must be a whole number >= 0; got None",
        ),
    ],
)
def test_design_from_header_errors(header: dict[str, Any], match: str) -> None:
    with pytest.raises(DesignError, match=match):
        design_from_header(header)


def test_equality_and_repr() -> None:
    assert Grid({"A.x": [1, 2]}) == Grid({"A.x": [1, 2]})
    assert Grid({"A.x": [1, 2]}) != Grid({"A.x": [2, 1]})
    assert MonteCarlo(3, PERTURB, seed=1) != MonteCarlo(3, PERTURB, seed=2)
    assert MonteCarlo(3, PERTURB, seed=1) != MonteCarlo(4, PERTURB, seed=1)
    assert repr(Grid({"A.x": [1, 2], "TOF": [3]})) == "<Grid: 2 runs over A.x, TOF>"


# --- determinism across processes -----------------------------------------------------

_CHILD = """
import json, sys
import scipy.stats as st
from gmat_sweep.designs import Grid, LatinHypercube, MonteCarlo
perturb = {
    "Sat.SMA": ("normal", 7000.0, 10.0),
    "Sat.ECC": ("uniform", 0.0, 0.01),
    "Burn.Element1": ("lognormal", -3.0, 0.2),
    "Sat.INC": st.truncnorm(-2, 2, loc=28.5, scale=0.1),
}
designs = [
    MonteCarlo(2100, perturb, seed=20260101),
    LatinHypercube(300, {"A.x": (0, 1), "B.y": ("normal", 1, 2)}, seed=5),
    Grid({"A.x": [1.5, 2.5], "B": ["p", "q", "r"]}),
]
out = [[[i, [[k, type(v).__name__, repr(v)] for k, v in ov.items()], s]
        for i, ov, s in d.iter_runs()] for d in designs]
json.dump(out, sys.stdout)
"""


def test_same_seed_same_values_in_a_fresh_process() -> None:
    env = _env(PYTHONHASHSEED="4242")
    child = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
    )
    here: dict[str, Any] = {}
    exec(_CHILD.replace("json.dump(out, sys.stdout)", ""), here)
    assert json.loads(child.stdout) == json.loads(json.dumps(here["out"]))
