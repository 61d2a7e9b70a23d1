"""Every output kind through the results object, and Target convergence, without GMAT.

The stand-in GMAT writes ReportFiles only, so these tests feed the driver's side of a
sweep (group commit into the dataset and manifest, then :class:`Results`) with frames
that gmat-run's own parsers read from files: an EphemerisFile (CCSDS-OEM) and
DifferentialCorrector logs that real GMAT R2026a wrote (``data/real_gmat_R2026a_*``,
from ``data/ephemeris.script`` and ``data/target.script`` with ``DC.MaximumIterations``
25 and 2, and with ``SolveMode = RunInitialGuess``), and a ContactLocator
report written by hand in GMAT's Legacy layout (the project's GMAT build has no
ContactLocator; see docs/outputs.md). The same missions run end to end on real GMAT in
test_real_outputs.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from gmat_run.parsers.contact import parse as parse_contact
from gmat_run.parsers.ephemeris import parse as parse_oem
from gmat_run.parsers.solver_log import parse as parse_solver

from gmat_sweep.cli import main
from gmat_sweep.commit import GroupCommitter
from gmat_sweep.convergence import judge, solver_summary
from gmat_sweep.errors import GmatSweepError
from gmat_sweep.manifest import MANIFEST_NAME, STATUSES, Manifest
from gmat_sweep.outputs import encode_frame
from gmat_sweep.records import Settings, header_record
from gmat_sweep.results import Results, load_results
from gmat_sweep.show import describe_failed, describe_run, describe_sweep
from gmat_sweep.spec import ErrorInfo, RunOutcome, RunSpec, Status
from gmat_sweep.testing import kit_script

DATA = Path(__file__).parent / "data"


def _oem() -> pd.DataFrame:
    return parse_oem(DATA / "real_gmat_R2026a_ephemeris.oem")


def _contacts() -> pd.DataFrame:
    return parse_contact(DATA / "contact_legacy_report.txt")


def _dc(which: str) -> pd.DataFrame:
    # MaximumIterations is what the runs had (gmat-run reads it from the mission).
    limit = 2 if which == "max_iter" else 25
    return parse_solver(DATA / f"real_gmat_R2026a_DC_{which}.data", max_iterations=limit)


def _commit(
    out: Path,
    runs: list[tuple[Status, Mapping[str, pd.DataFrame]]],
    *,
    accept_unconverged: bool = False,
) -> Manifest:
    """A sweep directory whose runs ended as given, written by the driver's own code:
    each outcome carries its frames as a worker sends them (Arrow IPC) and the solver
    summaries the GMAT host makes, is judged, then group-committed."""
    from gmat_sweep.designs import Grid
    from gmat_sweep.preflight import canonical_sha256

    # A real sweep directory (script copy, grid design), so that resume can take it on.
    script = out / "script" / "mission.script"
    script.parent.mkdir(parents=True)
    script.write_text(kit_script().read_text())
    grid = Grid({"Sat.SMA": [7000.0 + r for r in range(len(runs))]})
    header = header_record(
        script_name="mission.script",
        script_sha256=canonical_sha256(script.read_text()),
        design=grid.to_header(),
        n_runs=len(runs),
        settings=Settings(accept_unconverged=accept_unconverged),
        gmat_version="R2026a",
    )
    manifest = Manifest.create(out, header)
    committer = GroupCommitter(out, manifest)
    finished = []
    for run_id, (status, frames) in enumerate(runs):
        solvers = {
            key.split("__", 1)[1]: solver_summary(frame)
            for key, frame in frames.items()
            if key.startswith("solver__")
        }
        outcome = RunOutcome(
            run_id=run_id,
            attempt=1,
            status=status,
            tables={key: encode_frame(f) for key, f in frames.items()}
            if status.value == "ok"
            else {},
            error=None if status is Status.OK else ErrorInfo("GmatRunError", "boom"),
            solvers=solvers,
        )
        spec = RunSpec(run_id=run_id, overrides={"Sat.SMA": 7000.0 + run_id}, script="", out_dir="")
        finished.append((spec, judge(outcome, accept_unconverged=accept_unconverged)))
    committer.add(finished)
    committer.close()
    manifest.close()
    return Manifest.load(out)


# -- each kind, the same way ------------------------------------------------------------


def test_contacts_are_indexed_by_run_and_interval(tmp_path: Path) -> None:
    _commit(
        tmp_path,
        [
            (Status.OK, {"contact__Contacts": _contacts()}),
            (Status.FAILED, {}),
            (Status.OK, {"contact__Contacts": _contacts()}),
        ],
    )
    results = Results(tmp_path)
    assert results.output_names("contact") == ["Contacts"]
    df = results.to_pandas("Contacts", kind="contact")
    assert list(df.index.names) == ["run_id", "interval"]
    intervals = df.index.get_level_values("interval")
    assert isinstance(intervals, pd.IntervalIndex) and intervals.closed == "both"
    # Start and Stop became the interval; the other columns stay, with __status.
    assert list(df.columns) == ["Observer", "Duration", "__status"]
    assert df.index.get_level_values("run_id").tolist() == [0, 0, 0, 1, 2, 2, 2]
    first = df.xs(0, level="run_id")
    assert first.index[0].left == pd.Timestamp("2026-01-01 02:47:13.512")
    assert first.index[0].right == pd.Timestamp("2026-01-01 02:55:40.219")
    assert first["Duration"].iloc[0] == pd.Timedelta(seconds=506.707)
    assert (first["Observer"] == "Station").all()
    # The failed run is one marker row: no interval, no values.
    marker = df.loc[df["__status"] == "failed"]
    assert len(marker) == 1 and pd.isna(marker.index[0][1]) and pd.isna(marker["Duration"]).all()
    in_pass = intervals.contains(pd.Timestamp("2026-01-01 04:30:00"))
    assert df.index[in_pass].get_level_values("run_id").tolist() == [0, 2]
    pd.testing.assert_frame_equal(load_results(tmp_path, "Contacts", kind="contact"), df)


def test_ephemerides_are_indexed_by_run_and_epoch(tmp_path: Path) -> None:
    oem = _oem()
    shifted = oem.assign(X=oem["X"] + 1.0)
    _commit(
        tmp_path,
        [(Status.OK, {"ephemeris__Eph": oem}), (Status.OK, {"ephemeris__Eph": shifted})],
    )
    df = Results(tmp_path).to_pandas("Eph", kind="ephemeris")
    assert list(df.index.names) == ["run_id", "time"]
    assert str(df.index.get_level_values("time").dtype).startswith("datetime64")
    assert list(df.columns) == ["X", "Y", "Z", "VX", "VY", "VZ", "__status"]
    assert df.groupby(level="run_id").size().tolist() == [13, 13]  # 1 h every 300 s
    times = df.xs(1, level="run_id").index
    assert times[0] == pd.Timestamp("2026-01-01 00:00:00")
    assert times[-1] == pd.Timestamp("2026-01-01 01:00:00")
    assert df.xs(1, level="run_id")["X"].to_numpy() == pytest.approx(oem["X"].to_numpy() + 1.0)
    # A sweep whose only output is an ephemeris returns it by default.
    pd.testing.assert_frame_equal(load_results(tmp_path), df)


def test_solver_iterations_are_a_kind_of_their_own(tmp_path: Path) -> None:
    _commit(
        tmp_path,
        [
            (
                Status.OK,
                {"report__Final": pd.DataFrame({"A": [1.0]}), "solver__DC": _dc("converged")},
            )
        ],
    )
    results = Results(tmp_path)
    assert results.output_names("solver") == ["DC"] and results.output_names() == ["Final"]
    df = results.to_pandas("DC", kind="solver")
    assert list(df.index.names) == ["run_id", "time"]
    assert df.index.get_level_values("time").tolist() == [0, 1, 2]  # iteration positions
    assert df["iteration"].tolist() == [1.0, 2.0, 3.0]
    assert df["status"].tolist() == ["running", "running", "converged"]
    assert df["Sat.RadApo_residual"].iloc[-1] == pytest.approx(0.0920967, rel=1e-5)


def test_kind_errors_say_what_the_sweep_has(tmp_path: Path) -> None:
    _commit(tmp_path, [(Status.OK, {"ephemeris__Eph": _oem()})])
    results = Results(tmp_path)
    with pytest.raises(
        GmatSweepError,
        match=r"no run of this sweep wrote a contact output; its outputs are: ephemeris Eph",
    ):
        results.to_pandas(kind="contact")
    with pytest.raises(
        GmatSweepError,
        match=r"unknown output kind 'ephemerides'; the kinds are: report, ephemeris, contact, "
        r"solver, summary",
    ):
        results.output_names("ephemerides")
    with pytest.raises(GmatSweepError, match=r"no ephemeris named 'Other'.*it has: Eph"):
        results.to_pandas("Other", kind="ephemeris")


# -- convergence --------------------------------------------------------------------------


def test_solver_summary_reads_how_each_dc_log_ended() -> None:
    assert solver_summary(_dc("converged")) == {
        "converged": True,
        "status": "converged",
        "iterations": 3,
        "worst_goal": "Sat.RadApo",
        "residual": pytest.approx(0.0920967, rel=1e-5),
        "tolerance": 0.1,
    }
    summary = solver_summary(_dc("max_iter"))
    assert summary["converged"] is False and summary["status"] == "max_iter"
    assert summary["iterations"] == 2 and summary["residual"] == pytest.approx(33.5374, rel=1e-5)
    json.dumps(summary, allow_nan=False)  # fits on a manifest line


def test_a_solver_that_did_not_iterate_is_not_solved_rather_than_unconverged(
    tmp_path: Path,
) -> None:
    # SolveMode = RunInitialGuess: GMAT writes a log gmat-run cannot parse.
    from gmat_run.results import Results as GmatResults

    from gmat_sweep.convergence import solver_outputs, unconverged

    paths = {
        "DC": DATA / "real_gmat_R2026a_DC_initial_guess.data",
        "DC2": DATA / "real_gmat_R2026a_DC_max_iter.data",
    }
    results = GmatResults(
        output_dir=tmp_path, log="", solver_paths=paths, solver_max_iterations={"DC2": 2}
    )
    frames, summaries, warnings = solver_outputs(results)
    assert list(frames) == ["DC2"] and len(frames["DC2"]) == 2
    assert summaries["DC"] == {"converged": None, "status": "not solved", "iterations": 0}
    assert summaries["DC2"]["status"] == "max_iter"
    assert warnings == [
        "solver 'DC' did not iterate (its log says it completed in 0 iterations, as with "
        "SolveMode = RunInitialGuess): it has no solver output"
    ]
    assert unconverged(summaries) == ["DC2"]
    outcome = RunOutcome(0, 1, Status.OK, solvers={"DC": summaries["DC"]})
    assert judge(outcome, accept_unconverged=False) is outcome


def test_an_unconverged_target_is_its_own_status_unless_accepted() -> None:
    ok = RunOutcome(
        0, 1, Status.OK, tables={"report__R": b"x"}, solvers={"DC": solver_summary(_dc("max_iter"))}
    )
    judged = judge(ok, accept_unconverged=False)
    assert judged.status is Status.UNCONVERGED and judged.tables == {}
    assert judged.error is not None and judged.error.type == "Unconverged"
    assert (
        "DC: max_iter after 2 iterations (Sat.RadApo residual 33.5374, tolerance 0.1)"
        in judged.error.message
    )
    assert "accept_unconverged=True" in judged.error.message
    assert judge(ok, accept_unconverged=True) is ok
    converged = RunOutcome(0, 1, Status.OK, solvers={"DC": solver_summary(_dc("converged"))})
    assert judge(converged, accept_unconverged=False) is converged
    failed = RunOutcome(0, 1, Status.FAILED, solvers=ok.solvers)
    assert judge(failed, accept_unconverged=False) is failed


def test_unconverged_is_appended_so_old_codes_keep_their_meaning() -> None:
    assert STATUSES[:6] == ("", "ok", "failed", "timeout", "crashed", "lost")
    assert STATUSES[6] == "unconverged" == Status.UNCONVERGED.value


def test_unconverged_runs_are_recorded_pending_and_shown(tmp_path: Path) -> None:
    manifest = _commit(
        tmp_path,
        [
            (
                Status.OK,
                {"report__Final": pd.DataFrame({"A": [1.0]}), "solver__DC": _dc("max_iter")},
            ),
            (
                Status.OK,
                {"report__Final": pd.DataFrame({"A": [2.0]}), "solver__DC": _dc("converged")},
            ),
        ],
    )
    assert manifest.status_counts() == {"ok": 1, "unconverged": 1}
    assert list(manifest.pending()) == [0]  # resume reruns it, like a failure
    latest = manifest.latest_entries()
    assert latest[0]["solvers"]["DC"]["status"] == "max_iter" and latest[0]["outputs"] == {}
    assert latest[1]["solvers"]["DC"]["converged"] is True
    df = Results(tmp_path).to_pandas()
    assert df["__status"].tolist() == ["unconverged", "ok"] and pd.isna(df["A"].iloc[0])
    sweep = describe_sweep(tmp_path)
    assert "runs:    1 ok, 1 unconverged" in sweep
    assert "solver DC: converged in 1 of 2 runs; not converged: run 0 (unconverged)" in sweep
    failed = describe_failed(tmp_path)
    assert "run 0 [unconverged] attempt 1: Unconverged: the Target/Optimize sequence" in failed
    assert "log: none kept (GMAT ran it to the end" in failed
    assert "solver DC: max_iter after 2 iterations" in describe_run(tmp_path, 0)
    table = Results(tmp_path).convergence()
    assert table.index.tolist() == [(0, "DC"), (1, "DC")]
    assert table["converged"].tolist() == [False, True]
    assert table["status"].tolist() == ["max_iter", "converged"]
    assert table["__status"].tolist() == ["unconverged", "ok"]
    assert table["iterations"].tolist() == [2, 3] and table["worst_goal"].iloc[0] == "Sat.RadApo"


def test_resume_reruns_an_unconverged_run(gmat: Path, tmp_path: Path) -> None:
    # The stand-in's mission has no Target: rerun, the run converges trivially and is ok.
    from gmat_sweep import Sweep

    frames = {"solver__DC": _dc("max_iter")}
    manifest = _commit(tmp_path, [(Status.OK, frames), (Status.OK, {})])
    assert manifest.status_counts() == {"ok": 1, "unconverged": 1}
    df = Sweep.from_manifest(tmp_path, progress=False).resume(report="OrbitReport")
    manifest = Manifest.load(tmp_path)
    assert manifest.status_counts() == {"ok": 2}
    assert [manifest.attempts_of(r) for r in (0, 1)] == [2, 1]  # only the unconverged run
    assert manifest.latest_entries()[0]["overrides"] == {"Sat.SMA": 7000.0}
    assert df.index.get_level_values("run_id").unique().tolist() == [0]  # run 1 wrote none
    assert (df["__status"] == "ok").all()
    assert df["Sat.SMA"].iloc[0] == pytest.approx(7000.0)
    # Its latest attempt ran no solver: show counts no solver runs any more.
    assert "solver DC" not in describe_sweep(tmp_path)
    assert "solver DC: max_iter" in describe_run(tmp_path, 0)  # attempt 1 is still listed


def test_accepted_unconverged_runs_are_ok_and_still_recorded(tmp_path: Path) -> None:
    manifest = _commit(
        tmp_path,
        [(Status.OK, {"report__Final": pd.DataFrame({"A": [1.0]}), "solver__DC": _dc("max_iter")})],
        accept_unconverged=True,
    )
    assert manifest.status_counts() == {"ok": 1} and list(manifest.pending()) == []
    assert manifest.latest_entries()[0]["solvers"]["DC"]["converged"] is False
    assert Settings.from_header(manifest.header).accept_unconverged is True
    assert "not converged: run 0 (accepted as ok (accept_unconverged))" in describe_sweep(tmp_path)
    assert Results(tmp_path).to_pandas("DC", kind="solver")["status"].iloc[-1] == "max_iter"
    table = Results(tmp_path).convergence()
    assert not table.loc[(0, "DC"), "converged"]
    assert table.loc[(0, "DC"), "__status"] == "ok"


def test_settings_default_to_not_accepting_for_older_headers() -> None:
    assert Settings.from_header({"settings": {"timeout": None}}).accept_unconverged is False
    assert Settings(accept_unconverged=True).to_json()["accept_unconverged"] is True


def test_cli_records_accept_unconverged_for_resume(gmat: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(kit_script()), "--grid", "Sat.SMA=7000", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--no-progress", "--accept-unconverged"])
    assert result.exit_code == 0, result.output
    header: dict[str, Any] = json.loads((out / MANIFEST_NAME).read_text().splitlines()[0])
    assert header["settings"]["accept_unconverged"] is True
    from gmat_sweep import Sweep

    assert Sweep.from_manifest(out).accept_unconverged is True
    plain = tmp_path / "plain"
    result = CliRunner().invoke(main, [*args[:-1], str(plain), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert Sweep.from_manifest(plain).accept_unconverged is False


# -- a GMAT without the plugins a mission needs -------------------------------------------


def test_a_script_gmat_cannot_parse_names_gmats_own_error(gmat: Path, tmp_path: Path) -> None:
    # GroundStation and ContactLocator are GMAT plugins: the stand-in, like the project's
    # real GMAT build, has neither. The error quotes GMAT's first error and its line.
    from gmat_sweep import sweep
    from gmat_sweep.errors import ScriptError

    script = DATA / "contact.script"
    with pytest.raises(ScriptError) as info:
        sweep(script, grid={"Sat.SMA": [7000.0]}, out=tmp_path / "checked", progress=False)
    message = str(info.value)
    assert 'Cannot create an object "Station". The "GroundStation" is' in message
    assert "30: Create GroundStation Station" in message
    assert "more errors in GMAT's log" in message
    assert not (tmp_path / "checked" / MANIFEST_NAME).exists()
    # Unchecked, each run fails with the same words in the manifest.
    with pytest.warns(UserWarning, match="0/1 ok, 1 failed"):
        sweep(script, grid={"Sat.SMA": [7000.0]}, out=tmp_path / "o", validate=False)
    error = Manifest.load(tmp_path / "o").latest_entries()[0]["error"]
    assert error["type"] == "ScriptLoadError"
    assert 'The "GroundStation" is' in error["message"]
