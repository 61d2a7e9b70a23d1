"""Nothing finished is lost: driver killed with SIGKILL, lost runs, resume anywhere."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from gmat_sweep import LocalPool, Sweep, load_results, monte_carlo, sweep
from gmat_sweep.manifest import MANIFEST_NAME, Manifest
from gmat_sweep.spec import RunOutcome, RunSpec, run_dir_name
from gmat_sweep.testing import kit_script

SCRIPT = kit_script()


def _run_lines(out: Path) -> list[dict[str, Any]]:
    """The run lines the manifest has committed so far (none before it exists)."""
    if not (out / MANIFEST_NAME).exists():
        return []
    return list(Manifest.load(out).run_entries())


def _start_driver(code: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A driver that commits each wake-up's runs at once (window 0), so it can be killed
    between groups as well as inside one."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env={**os.environ, "GMAT_SWEEP_COMMIT_WINDOW_S": "0"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_after_runs(proc: subprocess.Popen[bytes], out: Path, runs: int) -> None:
    deadline = time.time() + 120
    while len(_run_lines(out)) < runs:
        assert proc.poll() is None, "the driver ended before it could be killed"
        assert time.time() < deadline, "the driver made no progress"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its loky workers
    proc.wait()


def test_sigkill_of_the_driver_loses_nothing_and_resume_completes(
    gmat_with: Callable[..., Path], tmp_path: Path
) -> None:
    gmat_with(run_cost_s=0.3)
    out = tmp_path / "killed"
    smas = [7000.0 + 25 * i for i in range(10)]
    proc = _start_driver(
        f"""
        from gmat_sweep import sweep
        sweep({str(SCRIPT)!r}, grid={{"Sat.SMA": {smas!r}}}, out={str(out)!r},
              backend="local", backend_options={{"workers": 2}})
        """,
        tmp_path,
    )
    _kill_after_runs(proc, out, 3)
    finished = {int(r["run_id"]) for r in _run_lines(out) if r["status"] == "ok"}
    assert 3 <= len(finished) < 10

    with LocalPool(2) as pool:
        resumed = Sweep.from_manifest(out, backend=pool).resume()
        reference = sweep(SCRIPT, grid={"Sat.SMA": smas}, backend=pool, out=tmp_path / "ref")
    assert_frame_equal(resumed, reference, check_exact=True)
    assert not resumed.index.duplicated().any()
    runs = _run_lines(out)
    assert sorted({int(r["run_id"]) for r in runs}) == list(range(10))
    assert all(int(r["run_id"]) not in finished for r in runs[len(finished) :])  # not rerun
    # Nothing but the sweep's own files: the part files of groups the killed driver did
    # not commit were removed when the sweep was reopened.
    live = set(Manifest.load(out).parts["report__OrbitReport"])
    assert {p.relative_to(out).as_posix() for p in (out / "data").rglob("part-*")} == live


def test_unseeded_monte_carlo_resume_redraws_the_same_values(
    gmat_with: Callable[..., Path], tmp_path: Path
) -> None:
    gmat_with(run_cost_s=0.3)
    out = tmp_path / "mc"
    proc = _start_driver(
        f"""
        from gmat_sweep import monte_carlo
        monte_carlo({str(SCRIPT)!r}, 10, {{"Sat.SMA": ("normal", 7000, 20)}}, out={str(out)!r},
                    backend="local", backend_options={{"workers": 2}})
        """,
        tmp_path,
    )
    _kill_after_runs(proc, out, 2)
    header = json.loads((out / MANIFEST_NAME).read_text().splitlines()[0])
    seed = header["design"]["seed"]
    assert isinstance(seed, int)  # the drawn seed is recorded
    before = {int(r["run_id"]): r["overrides"] for r in _run_lines(out)}

    with LocalPool(2) as pool:
        resumed = Sweep.from_manifest(out, backend=pool).resume()
        seeded = monte_carlo(
            SCRIPT,
            10,
            {"Sat.SMA": ("normal", 7000, 20)},
            seed=seed,
            backend=pool,
            out=tmp_path / "s",
        )
    assert_frame_equal(resumed, seeded, check_exact=True)
    after = {int(r["run_id"]): r["overrides"] for r in _run_lines(out)}
    assert all(after[r] == o for r, o in before.items())


class FlakyPool(LocalPool):
    """Loses every batch holding the first attempt of an even run, as a dying worker would."""

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        if any(s.attempt == 1 and s.run_id % 2 == 0 for s in specs):
            lost: Future[list[RunOutcome]] = Future()
            lost.set_exception(ConnectionError("worker tcp://10.0.0.7 lost"))
            return lost
        return super().submit(specs)


def test_lost_runs_are_recorded_and_resubmitted(gmat: Path, tmp_path: Path) -> None:
    with FlakyPool(2) as pool:
        df = sweep(
            SCRIPT, grid={"Sat.SMA": [7000.0, 7100.0, 7200.0]}, backend=pool, out=tmp_path / "o"
        )
    assert (df["__status"] == "ok").all()
    runs = _run_lines(tmp_path / "o")
    lost = sorted((r["run_id"], r["attempt"]) for r in runs if r["status"] == "lost")
    assert lost == [(0, 1), (2, 1)]
    assert lost and "worker tcp://10.0.0.7 lost" in next(
        r["error"]["message"] for r in runs if r["status"] == "lost"
    )
    assert sorted((r["run_id"], r["attempt"]) for r in runs if r["status"] == "ok") == [
        (0, 2),
        (1, 1),
        (2, 2),
    ]


class AlwaysLost(LocalPool):
    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        lost: Future[list[RunOutcome]] = Future()
        lost.set_exception(ConnectionError("node gone"))
        return lost


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_a_run_lost_more_than_max_retries_stays_lost(
    gmat: Path, tmp_path: Path, max_retries: int
) -> None:
    with AlwaysLost(1) as pool, pytest.warns(UserWarning, match="1 lost"):
        df = sweep(
            SCRIPT, grid={"Sat.SMA": [7000.0]}, backend=pool, out=tmp_path / "o",
            max_retries=max_retries,
        )  # fmt: skip
    assert df["__status"].tolist() == ["lost"]
    tries = max_retries + 1  # the first attempt and max_retries more; 0: no retry at all
    assert [r["attempt"] for r in _run_lines(tmp_path / "o")] == list(range(1, tries + 1))
    assert {r["status"] for r in _run_lines(tmp_path / "o")} == {"lost"}
    # max_retries counts per session: a resume retries the lost run again.
    with AlwaysLost(1) as pool, pytest.warns(UserWarning, match="1 lost"):
        Sweep.from_manifest(tmp_path / "o", backend=pool, max_retries=max_retries).resume()
    assert [r["attempt"] for r in _run_lines(tmp_path / "o")] == list(range(1, 2 * tries + 1))


class RunsThenLoses(LocalPool):
    """Runs each first attempt to its end (GMAT's files written into ``out/runs/<id>``, the
    outcome with its outputs made), then reports the batch lost: a worker that died while
    sending its answer back."""

    ran_before_lost: list[tuple[int, str, bool]]

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        inner = super().submit(specs)
        if all(s.attempt > 1 for s in specs):
            return inner
        lost: Future[list[RunOutcome]] = Future()

        def lose(done: Future[list[RunOutcome]]) -> None:
            self.ran_before_lost += [
                (o.run_id, o.status.value, bool(o.tables)) for o in done.result()
            ]
            lost.set_exception(ConnectionError("worker lost while sending its outcomes"))

        inner.add_done_callback(lose)
        return lost


def test_a_run_lost_after_its_outputs_were_written_is_kept_once(gmat: Path, tmp_path: Path) -> None:
    grid = {"Sat.SMA": [7000.0, 7100.0, 7200.0]}
    with RunsThenLoses(2) as pool:
        pool.ran_before_lost = []
        df = sweep(SCRIPT, grid=grid, backend=pool, out=tmp_path / "o", keep_gmat_files=True)
    # Every first attempt did run to its end, outputs made, before it was reported lost.
    assert sorted(pool.ran_before_lost) == [(i, "ok", True) for i in range(3)]
    runs = _run_lines(tmp_path / "o")
    assert sorted((r["run_id"], r["attempt"], r["status"]) for r in runs) == [
        (i, attempt, status) for i in range(3) for attempt, status in ((1, "lost"), (2, "ok"))
    ]
    with LocalPool(2) as pool:
        reference = sweep(SCRIPT, grid=grid, backend=pool, out=tmp_path / "ref")
    # One copy of each run's rows, in the DataFrame returned and in the dataset on disk.
    assert_frame_equal(df, reference, check_exact=True)
    assert_frame_equal(load_results(tmp_path / "o"), reference, check_exact=True)
    # GMAT's own files: one folder per run (the later attempt's replaced the lost one's),
    # nothing half-moved left beside them.
    runs = tmp_path / "o" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == [run_dir_name(i) for i in range(3)]
    for run_id in range(3):
        assert (runs / run_dir_name(run_id) / "GmatLog.txt").is_file()


def test_a_moved_sweep_resumes_on_another_backend(gmat: Path, tmp_path: Path) -> None:
    with LocalPool(2) as pool:
        full = sweep(
            SCRIPT, grid={"Sat.SMA": [7000.0, 7100.0, 7200.0]}, backend=pool, out=tmp_path / "a"
        )
    # Pretend run 1 never finished (remove its line and its rows), then move the directory.
    manifest = tmp_path / "a" / MANIFEST_NAME
    lines = manifest.read_text().splitlines(keepends=True)
    records = [json.loads(x) for x in lines]
    kept = [r for r in records if not (r["kind"] == "run" and r["run_id"] == 1)]
    for record in kept:
        if record["kind"] == "commit":
            pairs = [
                (i, s) for i, s in zip(record["ids"], record["statuses"], strict=True) if i != 1
            ]
            record["ids"], record["statuses"] = [i for i, _ in pairs], [s for _, s in pairs]
            record["runs"] = len(pairs)
    manifest.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
    (part,) = Manifest.load(tmp_path / "a").parts["report__OrbitReport"]
    rows = pq.read_table(tmp_path / "a" / part)
    pq.write_table(rows.filter(pc.not_equal(rows["run_id"], 1)), tmp_path / "a" / part)
    moved = tmp_path / "elsewhere" / "b"
    shutil.move(tmp_path / "a", moved)
    # In a fresh process (as a user would): the in-process debug backend binds its
    # interpreter to one GMAT install, and this test process has bound others.
    done = subprocess.run(
        [sys.executable, "-m", "gmat_sweep.cli", "resume", str(moved), "--backend", "debug"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert_frame_equal(load_results(moved), full, check_exact=True)
    header = json.loads((moved / MANIFEST_NAME).read_text().splitlines()[0])
    assert str(tmp_path) not in json.dumps(header)  # no absolute paths in the manifest


def test_resume_with_nothing_left_runs_nothing(gmat: Path, tmp_path: Path) -> None:
    with LocalPool(2) as pool:
        first = sweep(SCRIPT, grid={"Sat.SMA": [7000.0]}, backend=pool, out=tmp_path / "o")
    lines_before = len(_run_lines(tmp_path / "o"))
    again = Sweep.from_manifest(tmp_path / "o").resume()
    assert_frame_equal(first, again, check_exact=True)
    assert len(_run_lines(tmp_path / "o")) == lines_before


def test_a_last_line_without_its_newline_is_rerun_and_the_frame_matches_the_disk(
    gmat: Path, tmp_path: Path
) -> None:
    """Issue 17's reproduction: the driver died between a record and its newline. The
    group it closed does not count, resume reruns it, and the DataFrame resume returns is
    what the manifest and dataset on disk say afterwards."""
    grid = {"Sat.SMA": [7000.0, 7100.0, 7200.0]}
    with LocalPool(2) as pool:
        reference = sweep(SCRIPT, grid=grid, backend=pool, out=tmp_path / "ref")
        sweep(SCRIPT, grid=grid, backend=pool, out=tmp_path / "o")
    path = tmp_path / "o" / MANIFEST_NAME
    text = path.read_text()
    assert text.endswith("\n")
    path.write_text(text[:-1])  # the last group's commit line, complete but unterminated
    torn = Manifest.load(tmp_path / "o")
    assert list(torn.pending()), "a record without its newline was counted"
    with LocalPool(2) as pool:
        resumed = Sweep.from_manifest(tmp_path / "o", backend=pool).resume()
    assert list(Manifest.load(tmp_path / "o").pending()) == []
    assert (resumed["__status"] == "ok").all()
    assert_frame_equal(resumed, load_results(tmp_path / "o"), check_exact=True)
    assert_frame_equal(resumed, reference, check_exact=True)
    raw = path.read_text()
    assert raw.endswith("\n") and all(json.loads(line) for line in raw.splitlines())
