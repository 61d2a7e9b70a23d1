"""The stand-in GMAT install against what real GMAT R2026a writes.

``data/sample.script`` and ``data/real_gmat_R2026a_probe_log.txt`` were recorded on
real GMAT R2026a through gmat-run 0.6.0 (see ``shared/reference/real-gmat-R2026a``).
Every check runs gmat-run in a fresh interpreter, as a worker does: gmat-run binds a
process to one GMAT install for its lifetime.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gmat_sweep.processes import process_stat
from gmat_sweep.testing import FakeGmatRule, hung_processes, make_fake_gmat_install

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "sample.script"
REAL_REPORT = DATA / "real_gmat_R2026a_probe_log.txt"


def _run_python(root: Path, code: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env_code = f"import os; os.environ['GMAT_ROOT'] = {str(root)!r}\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", env_code], capture_output=True, text=True, timeout=timeout
    )


def _json_of(root: Path, code: str) -> Any:
    done = _run_python(root, code)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_sample(root: Path, workdir: Path, overrides: str = "") -> subprocess.CompletedProcess[str]:
    return _run_python(
        root,
        f"""
        import gmat_run
        m = gmat_run.Mission.load({str(SAMPLE)!r})
        {overrides}
        m.run(working_dir={str(workdir)!r}, overwrite=True)
        """,
    )


def _columns(line: str) -> list[int]:
    """Start offsets of the fields of a fixed-width line."""
    starts, previous = [], " "
    for i, ch in enumerate(line):
        if ch != " " and previous == " ":
            starts.append(i)
        previous = ch
    return starts


def test_report_has_real_gmats_layout_and_values(fake_gmat_root: Path, tmp_path: Path) -> None:
    done = _run_sample(fake_gmat_root, tmp_path)
    assert done.returncode == 0, done.stderr
    fake = (tmp_path / "probe_log.txt").read_text().splitlines()
    real = REAL_REPORT.read_text().splitlines()
    assert fake[0] == real[0]  # header names exactly as in Add = {...}, same widths
    assert len(fake) == len(real)
    for fake_line, real_line in zip(fake[1:], real[1:], strict=True):
        assert _columns(fake_line) == _columns(real_line)
        fake_fields, real_fields = fake_line.split("   "), real_line.split("   ")
        fake_values = [f.strip() for f in fake_fields if f.strip()]
        real_values = [f.strip() for f in real_fields if f.strip()]
        assert fake_values[0] == real_values[0]  # the UTCGregorian epoch, character for character
        for f, r in zip(fake_values[1:], real_values[1:], strict=True):
            # Same physics to a few centimetres; the last digits come from GMAT's integrator and
            # its Earth model.
            assert math.isclose(float(f), float(r), rel_tol=1e-7, abs_tol=1e-9), (f, r)


def test_gmat_run_parses_it_like_the_real_report(fake_gmat_root: Path, tmp_path: Path) -> None:
    dtypes = _json_of(
        fake_gmat_root,
        f"""
        import json
        import gmat_run
        from gmat_run.parsers import reportfile
        real = reportfile.parse({str(REAL_REPORT)!r})
        m = gmat_run.Mission.load({str(SAMPLE)!r})
        fake = m.run(working_dir={str(tmp_path)!r}, overwrite=True).reports["Log"]
        print(json.dumps([real.dtypes.astype(str).to_dict(), fake.dtypes.astype(str).to_dict()]))
        """,
    )
    real, fake = dtypes
    assert fake == real
    assert real["Coast"] == "int64" and real["Probe.UTCGregorian"].startswith("datetime64")


def test_fields_read_back_like_real_gmat(fake_gmat_root: Path) -> None:
    values = _json_of(
        fake_gmat_root,
        f"""
        import json, gmat_run
        m = gmat_run.Mission.load({str(SAMPLE)!r})
        print(json.dumps([m["Probe.SMA"], m["Coast.Value"], m["Probe.Epoch"]]))
        """,
    )
    sma, coast, epoch = values
    assert math.isclose(sma, 8000.0, rel_tol=1e-14) and coast == 600.0
    assert epoch == "15 Mar 2026 06:30:00.000"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (
            "m['Probe.SMAA'] = 7000",
            "unknown field 'SMAA' on Spacecraft 'Probe'; did you mean: SMA?",
        ),
        (
            "m['Nope.SMA'] = 7000",
            "unknown resource 'Nope' (no object by that name in the loaded script)",
        ),
        (
            "m['Probe.SMA'] = 'far'",
            "type mismatch for 'Probe.SMA': expected a real number, got str",
        ),
    ],
)
def test_bad_overrides_get_gmat_runs_real_messages(
    fake_gmat_root: Path, assignment: str, message: str
) -> None:
    error = _json_of(
        fake_gmat_root,
        f"""
        import json, gmat_run
        from gmat_run.errors import GmatFieldError
        m = gmat_run.Mission.load({str(SAMPLE)!r})
        try:
            {assignment}
        except GmatFieldError as exc:
            print(json.dumps(str(exc)))
        else:
            print(json.dumps(None))
        """,
    )
    assert error == message


def test_overrides_change_the_orbit(fake_gmat_root: Path, tmp_path: Path) -> None:
    finals = []
    for sma in (7000, 7500):
        done = _run_sample(fake_gmat_root, tmp_path / str(sma), f"m['Probe.SMA'] = {sma}")
        assert done.returncode == 0, done.stderr
        last = (tmp_path / str(sma) / "probe_log.txt").read_text().splitlines()[-1].split()
        finals.append(float(last[10]))  # Probe.Earth.Altitude (the epoch spans 4 fields)
    assert finals[1] - finals[0] > 400.0


def test_fail_rule_fails_the_run_with_gmats_reason_in_the_log(tmp_path: Path) -> None:
    root = make_fake_gmat_install(
        tmp_path / "g", rules=[FakeGmatRule(when={"Coast": 600}, action="fail")]
    )
    done = _run_sample(root, tmp_path / "w")
    assert done.returncode != 0 and "GmatRunError" in done.stderr
    assert "injected failure" in (tmp_path / "w" / "GmatLog.txt").read_text()


def test_crash_rule_dies_of_sigsegv(tmp_path: Path) -> None:
    root = make_fake_gmat_install(
        tmp_path / "g", rules=[FakeGmatRule(when={"Probe.SMA": 8000.0}, action="crash")]
    )
    done = _run_sample(root, tmp_path / "w")
    assert done.returncode == -signal.SIGSEGV


def test_hang_rule_never_returns_and_rules_match_only_their_values(tmp_path: Path) -> None:
    root = make_fake_gmat_install(
        tmp_path / "g", rules=[FakeGmatRule(when={"Probe.SMA": 7000.0}, action="hang")]
    )
    assert _run_sample(root, tmp_path / "a").returncode == 0  # SMA 8000: not this rule
    assert hung_processes(root) == []
    with pytest.raises(subprocess.TimeoutExpired):
        _run_python(
            root,
            f"""
            import gmat_run
            m = gmat_run.Mission.load({str(SAMPLE)!r})
            m["Probe.SMA"] = 7000.0
            m.run(working_dir={str(tmp_path / "b")!r}, overwrite=True)
            """,
            timeout=5.0,
        )
    # The hung process said who it was; subprocess.run killed it on the timeout.
    [(pid, start)] = hung_processes(root)
    assert start and process_stat(pid) is None, (pid, start, process_stat(pid))


def test_gate_rule_runs_once_its_file_exists_and_fails_saying_so_if_it_never_does(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    root = make_fake_gmat_install(
        tmp_path / "g", rules=[FakeGmatRule(when={}, action="gate", path=gate, seconds=0.5)]
    )
    done = _run_sample(root, tmp_path / "closed")
    assert done.returncode != 0 and "GmatRunError" in done.stderr
    log = (tmp_path / "closed" / "GmatLog.txt").read_text()
    assert f"the gate {gate} did not open within 0.5 s" in log, log
    gate.touch()
    done = _run_sample(root, tmp_path / "open")
    assert done.returncode == 0, done.stderr
    with pytest.raises(ValueError, match="a gate needs one"):
        FakeGmatRule(action="gate", seconds=1.0)
    with pytest.raises(ValueError, match="needs seconds > 0"):
        FakeGmatRule(action="gate", path=gate)
    with pytest.raises(ValueError, match='is for action="gate"'):
        FakeGmatRule(action="wait", seconds=1.0, path=gate)


def test_install_refuses_a_directory_that_is_not_a_stand_in(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a stand-in GMAT install"):
        make_fake_gmat_install(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"
    root = make_fake_gmat_install(tmp_path / "g", run_cost_s=0.5)
    again = make_fake_gmat_install(tmp_path / "g")  # a stand-in is refreshed in place
    assert again == root
    assert json.loads((root / "bin" / "fake_gmat_config.json").read_text())["run_cost_s"] == 0.0


def test_rule_rejects_an_unknown_action() -> None:
    with pytest.raises(ValueError, match="action must be one of"):
        FakeGmatRule(when={}, action="explode")  # type: ignore[arg-type]


def test_cartesian_state_and_elapsed_days_stop(fake_gmat_root: Path, tmp_path: Path) -> None:
    rows = _json_of(
        fake_gmat_root,
        f"""
        import json, gmat_run
        m = gmat_run.Mission.load({str(DATA / "cartesian_days.script")!r})
        m["Sat.X"] = 7100.0
        df = m.run(working_dir={str(tmp_path)!r}, overwrite=True).reports["R"]
        print(json.dumps([df["Sat.X"].iloc[0], df["Sat.ElapsedDays"].iloc[-1], len(df)]))
        """,
    )
    first_x, last_days, n = rows
    assert first_x == 7100.0
    assert math.isclose(last_days, 0.01, rel_tol=1e-9) and n > 2  # GMAT lands within ~1e-10


def test_a_syntax_error_makes_loading_fail(fake_gmat_root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.script"
    bad.write_text(SAMPLE.read_text().replace("GMAT Probe.ECC = 0.05;", "GMAT Probe.ECC = = 0.05"))
    done = _run_python(fake_gmat_root, f"import gmat_run\ngmat_run.Mission.load({str(bad)!r})")
    assert done.returncode != 0 and "GmatLoadError" in done.stderr


def test_a_command_name_is_refused_as_an_object_name(fake_gmat_root: Path, tmp_path: Path) -> None:
    """Real GMAT refuses ``Create ReportFile Report;`` (Report is a command); so must we."""
    bad = tmp_path / "named_report.script"
    bad.write_text(SAMPLE.read_text().replace("ReportFile Log", "ReportFile Report"))
    done = _run_python(fake_gmat_root, f"import gmat_run\ngmat_run.Mission.load({str(bad)!r})")
    assert done.returncode != 0 and "GmatLoadError" in done.stderr
