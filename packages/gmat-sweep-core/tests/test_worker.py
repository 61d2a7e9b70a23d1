"""execute_run and execute_batch directly: the worker side of every pool."""

from __future__ import annotations

import threading
from pathlib import Path

from gmat_sweep import hosts
from gmat_sweep.preflight import canonical_sha256
from gmat_sweep.spec import RunOutcome, RunSpec, Status
from gmat_sweep.testing import kit_script
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
    lock = threading.Lock()

    def work(first: int) -> None:
        for run_id in range(first, first + 3):
            outcome = execute_run(_spec(tmp_path, run_id))
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=work, args=(first,)) for first in (0, 3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        live_hosts = len(hosts._all_hosts)
    finally:
        shutdown_hosts()
    assert sorted(o.run_id for o in outcomes) == list(range(6))
    assert all(o.status is Status.OK for o in outcomes), [o.error for o in outcomes]
    assert live_hosts == 2  # one reused host per thread, not one shared by both
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
