"""The ``gmat-sweep`` command line, end to end on the stand-in GMAT.

Commands run through click's runner in this process (the sweeps themselves run in
worker processes); start-up cost and exit codes of the installed entry point are
checked in fresh interpreters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from gmat_sweep.cli import main
from gmat_sweep.errors import DesignError
from gmat_sweep.grammar import (
    parse_assignments,
    parse_bounds,
    parse_grid_values,
    parse_option_value,
    parse_perturbation,
)
from gmat_sweep.manifest import MANIFEST_NAME, Manifest
from gmat_sweep.results import load_results
from gmat_sweep.testing import FakeGmatRule, kit_script

SCRIPT = str(kit_script())


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _runs(out: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for line in (out / MANIFEST_NAME).read_text().splitlines()
        if '"kind":"run"' in line
    ]


# -- the grammar ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ("7000:7200:3", [7000.0, 7100.0, 7200.0]),
        ("7000:7000:1", [7000.0]),
        ("0:1:step=0.25", [0.0, 0.25, 0.5, 0.75, 1.0]),
        ("0:1:step=0.3", [0.0, 0.3, 0.6, 0.9]),  # hi included only if a step lands on it
        ("0:0.3:step=0.1", [0.0, 0.1, 0.2, 0.3]),  # decimal steps: no 0.30000000000000004
        ("7000,7100.5,abc", [7000, 7100.5, "abc"]),
        ('["01 Jan 2026 12:00:00.000", "02 Jan 2026 12:00:00.000"]', None),
    ],
)
def test_grid_grammar(spec: str, values: list[object] | None) -> None:
    parsed = parse_grid_values("X", spec)
    if values is None:
        assert parsed == ["01 Jan 2026 12:00:00.000", "02 Jan 2026 12:00:00.000"]
    else:
        assert parsed == values


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("1:2:x", "count 'x' is not a whole number"),
        ("1:2:0", "count must be at least 1"),
        ("1:2:step=-1", "step must be non-zero and point from lo to hi"),
        ("1:nan:3", "not a finite number"),
        ("01 Jan 2026 12:00:00.000", 'a JSON list: NAME=\\["a:b", "c,d"\\]'),
        ("[1, 2", "not a valid JSON list"),
        ("[]", "the JSON list is empty"),
        ("1,,2", "empty value in the list"),
    ],
)
def test_grid_grammar_errors_quote_what_was_typed(spec: str, match: str) -> None:
    with pytest.raises(DesignError, match=match) as info:
        parse_grid_values("Sat.SMA", spec)
    assert f"--grid Sat.SMA={spec}" in str(info.value)


def test_a_field_given_twice_is_refused() -> None:
    with pytest.raises(DesignError, match="--grid Sat.SMA is given twice"):
        parse_assignments(["Sat.SMA=7000", "Sat.SMA=7100"], "--grid", parse_grid_values)
    assert parse_assignments(["A=1,2", "B=3"], "--grid", parse_grid_values) == {
        "A": [1, 2],
        "B": [3],
    }


def test_perturbation_bounds_and_option_grammar() -> None:
    assert parse_perturbation("Sat.SMA", "normal:7000:5") == ("normal", 7000.0, 5.0)
    assert parse_bounds("Sat.SMA", "6900:7300") == (6900.0, 7300.0)
    assert parse_bounds("Sat.SMA", "uniform:1:2") == ("uniform", 1.0, 2.0)
    with pytest.raises(DesignError, match="--bounds Sat.SMA=7000: expected lo:hi"):
        parse_bounds("Sat.SMA", "7000")
    with pytest.raises(DesignError, match="did you mean normal"):
        parse_perturbation("Sat.SMA", "normel:7000:5")
    assert parse_option_value("4") == 4
    assert parse_option_value("true") is True
    assert parse_option_value('["a", 1]') == ["a", 1]
    assert parse_option_value("tcp://127.0.0.1:8786") == "tcp://127.0.0.1:8786"


# -- commands ------------------------------------------------------------------------


def test_run_grid_then_show(gmat: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = _cli(
        "run", SCRIPT, "--grid", "Sat.SMA=7000:7200:3", "--grid", "Sat.INC=28.5,51.6",
        "--out", str(out), "--workers", "2", "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "6/6 ok" in result.output
    assert len(_runs(out)) == 6
    shown = _cli("show", str(out))
    assert shown.exit_code == 0 and "6 ok" in shown.output and "Sat.INC" in shown.output
    one = _cli("show", str(out), "--run", "4")
    assert one.exit_code == 0 and "Sat.SMA" in one.output and "ok" in one.output


def test_grid_of_epochs_as_a_json_list(gmat: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    epochs = '["01 Jan 2026 12:00:00.000", "02 Jan 2026 18:30:00.000"]'
    result = _cli(
        "run", SCRIPT, "--grid", f"Sat.Epoch={epochs}", "--out", str(out), "--no-progress",
        "--workers", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    df = load_results(out)
    assert str(df.loc[1].index[0]) == "2026-01-02 18:30:00"


def test_explicit_table_from_csv(gmat: Path, tmp_path: Path) -> None:
    table = tmp_path / "runs.csv"
    pd.DataFrame({"Sat.SMA": [7000.0, 7300.0], "Coast": [60, 120]}).to_csv(table, index=False)
    out = tmp_path / "o"
    result = _cli("explicit", SCRIPT, "--samples", str(table), "--out", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    assert [r["overrides"] for r in sorted(_runs(out), key=lambda r: r["run_id"])] == [  # type: ignore[arg-type, return-value]
        {"Sat.SMA": 7000.0, "Coast": 60},
        {"Sat.SMA": 7300.0, "Coast": 120},
    ]
    wrong = tmp_path / "runs.txt"
    wrong.write_text("x")
    result = _cli("explicit", SCRIPT, "--samples", str(wrong), "--out", str(tmp_path / "p"))
    assert result.exit_code == 2 and "use a .csv or .parquet file" in result.output


def test_monte_carlo_then_extend_equals_a_fresh_larger_sweep(gmat: Path, tmp_path: Path) -> None:
    common = ["--perturb", "Sat.SMA=normal:7000:20", "--seed", "7", "--no-progress"]
    small, big = tmp_path / "small", tmp_path / "big"
    assert _cli("monte-carlo", SCRIPT, "--n", "2", "--out", str(small), *common).exit_code == 0
    result = _cli("extend", str(small), "--n", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    assert _cli("monte-carlo", SCRIPT, "--n", "4", "--out", str(big), *common).exit_code == 0

    def overrides(out: Path) -> list[object]:
        return [r["overrides"] for r in sorted(_runs(out), key=lambda r: r["run_id"])]  # type: ignore[arg-type, return-value]

    assert overrides(small) == overrides(big)


def test_latin_hypercube(gmat: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = _cli(
        "latin-hypercube", SCRIPT, "--n", "4", "--bounds", "Sat.SMA=6900:7300",
        "--bounds", "Sat.INC=0:90", "--seed", "3", "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    smas = sorted(r["overrides"]["Sat.SMA"] for r in _runs(out))  # type: ignore[index]
    # One draw in each quarter of the range: that is what stratification means.
    assert [int((s - 6900) // 100) for s in smas] == [0, 1, 2, 3]


def test_failed_runs_exit_1_with_where_to_look(
    gmat_with: Callable[..., Path], tmp_path: Path
) -> None:
    gmat_with(FakeGmatRule(when={"Sat.SMA": 7100.0}, action="fail"))
    out = tmp_path / "o"
    args = ["run", SCRIPT, "--grid", "Sat.SMA=7000,7100", "--out", str(out), "--no-progress"]
    result = _cli(*args)
    assert result.exit_code == 1
    assert f"gmat-sweep show {out} --failed" in result.output
    assert f"gmat-sweep resume {out}" in result.output
    failed = _cli("show", str(out), "--failed")
    assert failed.exit_code == 0
    assert "injected failure" in failed.output
    log = out / "logs" / "000001-attempt1.log"
    assert f"log: {log}" in failed.output
    assert "==> GmatLog.txt <==" in log.read_text() and "injected failure" in log.read_text()
    allowed = _cli(*args[:-3], "--out", str(tmp_path / "p"), "--no-progress", "--allow-failures")
    assert allowed.exit_code == 0, allowed.output


def test_bad_usage_exits_2_and_says_what_to_fix(gmat: Path, tmp_path: Path) -> None:
    result = _cli("run", SCRIPT, "--grid", "Sat.SMAA=7000,7100", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "did you mean: SMA?" in result.output and "nothing was run" in result.output
    result = _cli("run", SCRIPT, "--grid", "Sat.SMA", "--out", str(tmp_path / "p"))
    assert result.exit_code == 2 and "expected NAME=VALUE" in result.output
    assert not (tmp_path / "o" / MANIFEST_NAME).exists()


def test_corrupt_manifest_exits_3_naming_the_line(gmat: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert _cli("run", SCRIPT, "--grid", "Sat.SMA=7000,7100,7200", "--out", str(out),
                "--no-progress").exit_code == 0  # fmt: skip
    lines = (out / MANIFEST_NAME).read_text().splitlines(keepends=True)
    lines[2] = "{not json\n"  # a line in the middle, not a torn last line
    (out / MANIFEST_NAME).write_text("".join(lines))
    for args in (["show", str(out)], ["resume", str(out), "--no-progress"]):
        result = _cli(*args)
        assert result.exit_code == 3, result.output
        assert "line 3" in result.output


def test_backend_not_installed_exits_4_with_the_pip_line(
    gmat: Path, tmp_path: Path, core_only: None
) -> None:
    result = _cli(
        "run", SCRIPT, "--grid", "Sat.SMA=7000", "--backend", "ray", "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 4
    assert "pip install gmat-sweep-ray" in result.output


def test_resume_on_a_directory_without_a_sweep(tmp_path: Path) -> None:
    result = _cli("resume", str(tmp_path))
    assert result.exit_code == 2 and "manifest.jsonl not found" in result.output


def test_help_is_fast_and_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from gmat_sweep.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'numpy', 'scipy', 'gmat_run', 'joblib')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "monte-carlo" in done.stdout and "latin-hypercube" in done.stdout


def test_demo_says_it_runs_on_the_stand_in(tmp_path: Path) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "gmat_sweep.cli", "demo", "--out", str(out), "--workers", "2",
         "--no-progress"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "STAND-IN GMAT" in done.stdout and "NOT the real engine" in done.stdout
    assert "12/12 ok" in done.stdout and str(out / MANIFEST_NAME) in done.stdout
    assert Manifest.load(out).n_runs == 12
    again = subprocess.run(
        [sys.executable, "-m", "gmat_sweep.cli", "demo", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr  # a previous demo is replaced
