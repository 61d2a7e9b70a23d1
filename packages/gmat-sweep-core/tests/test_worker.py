"""execute_run and execute_batch directly: the worker side of every pool."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from gmat_sweep import hosts, worker
from gmat_sweep.outputs import decode_table
from gmat_sweep.preflight import canonical_sha256
from gmat_sweep.spec import RunOutcome, RunSpec, Status
from gmat_sweep.testing import FakeGmatRule, kit_script, wait_until
from gmat_sweep.worker import execute_batch, execute_run, shutdown_hosts


def _spec(out: Path, run_id: int) -> RunSpec:
    script = kit_script()
    return RunSpec(
        run_id=run_id,
        overrides={"Sat.SMA": 7000.0 + 10 * run_id},
        script=str(script),
        out_dir=str(out),
        script_sha256=canonical_sha256(script.read_text()),
    )


def test_threads_of_one_process_each_get_their_own_gmat_host(gmat: Path, tmp_path: Path) -> None:
    """A Dask worker with several threads runs several runs at once in one process."""
    outcomes: list[RunOutcome] = []
    served: dict[int, list[hosts.GmatHost | None]] = {}  # each thread's host, run by run
    lock = threading.Lock()

    def work(first: int) -> None:
        for run_id in range(first, first + 3):
            outcome = execute_run(_spec(tmp_path, run_id))
            with lock:
                outcomes.append(outcome)
                served.setdefault(first, []).append(hosts._thread_host())

    threads = [threading.Thread(target=work, args=(first,)) for first in (0, 3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        shutdown_hosts()
    assert sorted(o.run_id for o in outcomes) == list(range(6))
    assert all(o.status is Status.OK for o in outcomes), [o.error for o in outcomes]
    # One reused host per thread, not one shared by both.
    (first,), (second,) = ({id(h) for h in served[t]} for t in (0, 3))
    assert first != second and None not in served[0] + served[3], served
    assert not hosts._all_hosts


def test_a_batch_gives_one_outcome_per_spec_in_order(gmat: Path, tmp_path: Path) -> None:
    specs = [_spec(tmp_path, run_id) for run_id in (4, 2, 7)]
    try:
        outcomes = execute_batch(specs)
    finally:
        shutdown_hosts()
    assert [(o.run_id, o.attempt) for o in outcomes] == [(4, 1), (2, 1), (7, 1)]
    assert all(o.status is Status.OK for o in outcomes), [o.error for o in outcomes]


def test_a_donated_host_serves_the_next_run_without_a_new_bootstrap(
    gmat: Path, tmp_path: Path
) -> None:
    """The driver's validation host is handed over and the first run reuses it."""
    spec = _spec(tmp_path, 0)
    host = hosts.GmatHost(hosts.host_key(spec.script_sha256))
    host.ready()
    hosts.donate(host)
    try:
        outcome = execute_run(spec)
        used = hosts._thread_host()
    finally:
        shutdown_hosts()
    assert outcome.status is Status.OK, outcome.error
    assert used is host
    assert not host.alive()  # shut down with the others


def test_a_worker_that_cannot_see_the_sweep_runs_the_script_it_carries(
    gmat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No shared filesystem: the script path does not exist here, the text does the work,
    the outputs come back in the outcome, and nothing is written under out or left in
    scratch."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("GMAT_SWEEP_SCRATCH", str(scratch))
    worker.remove_process_scratch()  # this process's scratch folder is made anew, in there
    text = kit_script().read_text()
    spec = RunSpec(
        run_id=3,
        overrides={"Sat.SMA": 7100.0},
        script="/nonexistent/sweep/script/kit_orbit.script",
        out_dir="/nonexistent/sweep",
        script_sha256=canonical_sha256(text),
        script_text=text,
    )
    try:
        outcome = execute_run(spec)
        written = [p.read_text() for p in scratch.rglob("*.script")]
    finally:
        shutdown_hosts()
        worker.remove_process_scratch()
    assert outcome.status is Status.OK, outcome.error
    report = decode_table(outcome.tables["report__OrbitReport"])
    assert report.num_rows > 0 and report.column("Sat.SMA")[0].as_py() == pytest.approx(7100.0)
    assert outcome.log == ""  # ok runs bring no logs
    assert not Path("/nonexistent").exists()
    assert written == [text]  # the script's text, written into scratch
    assert list(scratch.iterdir()) == []  # the attempt's scratch after it, the script at exit


def test_a_failed_run_brings_its_whole_log_and_keep_files_keeps_gmat_files(
    gmat_with: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gmat_with(FakeGmatRule(when={"Sat.SMA": 7010.0}, action="fail"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("GMAT_SWEEP_SCRATCH", str(scratch))
    worker.remove_process_scratch()
    failing, kept = _spec(tmp_path, 1), replace(_spec(tmp_path, 2), keep_files=True)
    (tmp_path / "manifest.jsonl").write_text("")  # a sweep here: the worker checks it sees one
    try:
        outcomes = execute_batch([failing, kept])
    finally:
        shutdown_hosts()
    assert outcomes[0].status is Status.FAILED and not outcomes[0].tables
    assert "==> GmatLog.txt <==" in outcomes[0].log and "injected failure" in outcomes[0].log
    assert "==> worker.log <==" in outcomes[0].log
    assert outcomes[1].status is Status.OK and outcomes[1].tables
    run_dir = tmp_path / "runs" / "000002"
    assert (run_dir / "GmatLog.txt").is_file() and (run_dir / "worker.log").is_file()
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["000002"]
    worker.wait_for_removals()  # the failed attempt's folder goes in the background
    assert [list(p.iterdir()) for p in scratch.iterdir()] == [[]]  # both attempts' removed
    worker.remove_process_scratch()
    assert list(scratch.iterdir()) == []  # and the process's own folder at exit


def test_keep_files_where_this_worker_sees_no_sweep_fails_before_gmat_runs(
    gmat: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "not-here"  # the driver's out, which this worker cannot see
    try:
        (outcome,) = execute_batch([replace(_spec(elsewhere, 3), keep_files=True)])
    finally:
        shutdown_hosts()
    assert outcome.status is Status.FAILED and not outcome.tables
    assert outcome.error is not None and outcome.error.type == "SweepConfigError"
    assert "keep_gmat_files=True" in outcome.error.message
    assert str(elsewhere) in outcome.error.message and "GMAT was not run" in outcome.error.message
    assert not elsewhere.exists()  # nothing made where the sweep should be


def test_scratch_left_by_a_killed_process_is_removed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    monkeypatch.setenv("GMAT_SWEEP_SCRATCH", str(tmp_path))
    code = (
        "import os, signal; from gmat_sweep.worker import process_scratch; "
        "(process_scratch() / 'attempt').mkdir(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    (left,) = tmp_path.iterdir()
    assert (left / "attempt").is_dir()
    worker.remove_process_scratch()
    try:
        mine = worker.process_scratch()
        assert list(tmp_path.iterdir()) == [mine]  # the dead process's folder is gone
    finally:
        worker.remove_process_scratch()


@pytest.mark.parametrize("forked", [True, False], ids=["forked-host", "spawned-host"])
def test_a_host_stopped_from_outside_makes_its_run_lost_not_crashed(
    gmat_with: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    # A cancelled job or a shutdown SIGTERMs the GMAT host mid-run: not the run's fault, so
    # the driver must run it again (lost) rather than record a crash of its overrides.
    import os
    import signal
    import time

    monkeypatch.setenv("GMAT_SWEEP_FORKSERVER", "1" if forked else "0")
    gmat_with(FakeGmatRule(when={"Sat.SMA": 7000.0}, action="hang"))
    outcomes: list[RunOutcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(execute_run(_spec(tmp_path, 0))))
    before = set(hosts._all_hosts)  # what earlier tests of this process left
    try:
        thread.start()
        deadline = time.monotonic() + 60
        while not hosts._all_hosts - before and time.monotonic() < deadline:
            time.sleep(0.02)
        (host,) = hosts._all_hosts - before
        while host._hello_pending and time.monotonic() < deadline:  # GMAT bootstraps
            time.sleep(0.02)
        time.sleep(0.3)  # the run has reached GMAT, which hangs
        os.kill(host.process.pid, signal.SIGTERM)
        thread.join(timeout=60)
    finally:
        shutdown_hosts()
    (outcome,) = outcomes
    assert outcome.status is Status.LOST, outcome.error
    assert outcome.error is not None and "SIGTERM" in outcome.error.message


def _hosts_of(key: hosts.HostKey) -> list[hosts.GmatHost]:
    return [host for host in hosts._all_hosts if host.key == key and host.alive()]


def test_the_host_a_thread_reused_stops_when_that_thread_ends(gmat: Path, tmp_path: Path) -> None:
    # A pool's own worker threads (an in-process Dask worker's) run batches and end when
    # the pool closes: their GMAT hosts must end with them, not at interpreter exit.
    used: list[hosts.GmatHost] = []

    def worker_thread() -> None:
        outcomes = execute_batch([_spec(tmp_path, 0), _spec(tmp_path, 1)], reuse_gmat_context=True)
        assert [o.status for o in outcomes] == [Status.OK, Status.OK]
        used.append(hosts._by_thread[threading.get_ident()])

    try:
        thread = threading.Thread(target=worker_thread)
        thread.start()
        thread.join(timeout=120)
        assert not thread.is_alive() and len(used) == 1, "the batch did not run"
        [host] = used
        assert wait_until(lambda: not host.alive(), timeout=30), "the host outlived its thread"
        assert host not in hosts._all_hosts
    finally:
        shutdown_hosts()


def test_a_run_takes_a_spare_still_being_started_instead_of_starting_its_own(
    gmat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prestart returns at once; a run that comes meanwhile waits for that host."""
    made: list[hosts.GmatHost] = []
    go = threading.Event()

    class Held(hosts.GmatHost):  # a real host whose start waits for the test's go
        def __init__(self, key: hosts.HostKey) -> None:
            assert go.wait(timeout=60)
            super().__init__(key)
            made.append(self)

    monkeypatch.setattr(hosts, "GmatHost", Held)
    spec = _spec(tmp_path, 0)
    key = hosts.host_key(spec.script_sha256)
    try:
        hosts.prestart(key, 1)
        starting = dict(hosts._starting)  # prestart returned; its host is still held
        threading.Timer(0.3, go.set).start()  # the run below comes before the host
        outcome = execute_run(spec)
        used = hosts._thread_host()
        alive = _hosts_of(key)
    finally:
        go.set()
        shutdown_hosts()
    assert starting == {key: 1}
    assert outcome.status is Status.OK, outcome.error
    assert made == [used] and alive == [used]  # the spare served the run; no second host


def test_discarding_spares_also_closes_those_still_being_started(
    gmat: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[hosts.GmatHost] = []

    class Recorded(hosts.GmatHost):
        def __init__(self, key: hosts.HostKey) -> None:
            super().__init__(key)
            made.append(self)

    monkeypatch.setattr(hosts, "GmatHost", Recorded)
    key = hosts.host_key("nobody runs this")
    try:
        hosts.prestart(key, 2)
        hosts.discard_spares()  # the sweep ended (or failed) before they were made
        assert wait_until(lambda: not hosts._starting, timeout=60)
        closed = wait_until(lambda: not any(host.alive() for host in made), timeout=30)
    finally:
        shutdown_hosts()
    assert len(made) == 2
    assert closed
    assert not _hosts_of(key) and not hosts._spares


def test_prestarts_of_one_script_that_overlap_all_end_cleanly(
    gmat: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A prestart whose spare was discarded closes it, then settles its count; if a second
    # prestart of the key ended meanwhile (taking the count to 0 and removing it), the
    # first one's settling failed with a KeyError. Held in that order here.
    errors: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    discarded, first_closing, release = threading.Event(), threading.Event(), threading.Event()
    roles: list[str] = []

    class Held(hosts.GmatHost):
        def __init__(self, key: hosts.HostKey) -> None:
            self.role = "first" if not roles else "second"
            roles.append(self.role)
            assert (discarded if self.role == "first" else first_closing).wait(timeout=60)
            super().__init__(key)

        def close(self) -> None:
            super().close()
            if getattr(self, "role", "") == "first":
                first_closing.set()
                assert release.wait(timeout=60)

    monkeypatch.setattr(hosts, "GmatHost", Held)
    key = hosts.host_key("two prestarts of this")
    try:
        hosts.prestart(key, 1)
        hosts.discard_spares()  # before the first prestart's host is made
        discarded.set()
        hosts.prestart(key, 1)  # waits until the first closes its discarded host
        assert wait_until(lambda: key not in hosts._starting, timeout=60), hosts._starting
        release.set()
        assert wait_until(lambda: len(roles) == 2 and not hosts._starting, timeout=60)
        assert wait_until(lambda: len(_hosts_of(key)) == 1, timeout=60)  # the second's
        for thread in threading.enumerate():  # the first prestart settles its count
            if thread.name == "gmat-sweep-prestart":
                thread.join(timeout=60)
        assert not hosts._starting
    finally:
        release.set()
        shutdown_hosts()
    assert not errors, [e.exc_value for e in errors]
