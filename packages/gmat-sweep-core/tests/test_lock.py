"""One driver per sweep: real driver processes racing, killed, and taking over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gmat_sweep import Sweep
from gmat_sweep.errors import (
    ManifestExistsError,
    SweepConfigError,
    SweepLockedError,
    SweepLockLostError,
)
from gmat_sweep.lock import LOCK_NAME, SweepLock
from gmat_sweep.testing import kit_script, manifest_lines, wait_until

SCRIPT = kit_script()
SMAS = [6900.0 + 10 * i for i in range(24)]


def _driver(out: Path, *, resume: bool = False) -> subprocess.Popen[str]:
    """A real driver process running (or resuming) the sweep in ``out`` on 2 workers."""
    if resume:
        body = f"Sweep.from_manifest({str(out)!r}).resume()"
    else:
        body = (
            f"Sweep({str(SCRIPT)!r}, Grid({{'Sat.SMA': {SMAS!r}}}), out={str(out)!r}, "
            "backend='local', backend_options={'workers': 2}, progress=False).run()"
        )
    code = textwrap.dedent(f"""
        from gmat_sweep import Sweep
        from gmat_sweep.designs import Grid
        {body}
        print("driver finished", flush=True)
    """)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "GMAT_SWEEP_COMMIT_WINDOW_S": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _ok_runs(out: Path) -> list[int]:
    return sorted(line["run_id"] for line in manifest_lines(out, "run") if line["status"] == "ok")


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, stdout + stderr


def test_a_second_driver_is_refused_while_the_first_runs(
    gmat_with: Callable[..., Path], tmp_path: Path
) -> None:
    gmat_with(run_cost_s=0.25)
    out = tmp_path / "sweep"
    first = _driver(out)
    try:
        assert wait_until(lambda: len(manifest_lines(out, "run")) >= 2), _finish(first)
        with pytest.raises(SweepLockedError) as refused:
            Sweep.from_manifest(out).resume()
        message = str(refused.value)
        assert f"pid {first.pid} on host {socket.gethostname()}" in message
        assert "run since" in message and "kill" in message
        second = _driver(out, resume=True)  # a second process, refused the same way
        code, said = _finish(second)
        assert code != 0 and "in use by another gmat-sweep driver" in said, said
    finally:
        code, said = _finish(first)
    assert code == 0 and "driver finished" in said, said
    # Every run ran once, in the first driver only; the refused drivers wrote nothing.
    assert _ok_runs(out) == list(range(len(SMAS)))
    assert len(manifest_lines(out, "session")) == 1
    assert not (out / LOCK_NAME).exists()


def test_of_two_drivers_racing_into_one_empty_directory_exactly_one_runs(
    gmat_with: Callable[..., Path], tmp_path: Path
) -> None:
    gmat_with(run_cost_s=0.1)
    out = tmp_path / "race"
    drivers = [_driver(out), _driver(out)]
    results = [_finish(proc) for proc in drivers]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(said for code, said in results if code != 0)
    assert SweepLockedError.__name__ in loser or ManifestExistsError.__name__ in loser, loser
    assert len(manifest_lines(out, "header")) == 1
    assert _ok_runs(out) == list(range(len(SMAS)))


def test_a_holder_killed_with_sigkill_frees_the_lock_at_once(
    gmat_with: Callable[..., Path], tmp_path: Path
) -> None:
    gmat_with(run_cost_s=0.25)
    out = tmp_path / "killed"
    first = _driver(out)
    assert wait_until(lambda: len(manifest_lines(out, "run")) >= 2), _finish(first)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert (out / LOCK_NAME).exists()  # left behind by the dead holder
    started = time.monotonic()
    with pytest.warns(UserWarning, match=rf"took over the lock of .* from run \(pid {first.pid} "):
        df = Sweep.from_manifest(out).resume()
    session = manifest_lines(out, "session")[-1]
    assert session["took_over"]["pid"] == first.pid
    assert session["took_over"]["reason"] == f"pid {first.pid} is gone"
    assert "took_over" not in manifest_lines(out, "session")[0]  # the first driver's
    assert (df["__status"] == "ok").all()
    assert _ok_runs(out) == list(range(len(SMAS)))
    assert time.monotonic() - started < 60  # no lease to wait out on the same host
    assert not (out / LOCK_NAME).exists()


def _foreign_lock(out: Path, *, age_s: float) -> None:
    """A lock as a driver on another node writes it, last renewed ``age_s`` ago."""
    record = {"host": "node-elsewhere", "pid": 4242, "boot": "x", "start": "1",
              "token": "f" * 32, "what": "run", "since": "2026-12-01T00:00:00+00:00"}  # fmt: skip
    path = out / LOCK_NAME
    path.write_text(json.dumps(record) + "\n")
    then = time.time() - age_s
    os.utime(path, (then, then))


def test_a_lock_held_from_another_host_is_taken_over_only_after_its_lease(
    gmat: Path, tmp_path: Path
) -> None:
    out = tmp_path / "requeued"
    Sweep(SCRIPT, _grid(4), out=out, backend="local", progress=False).run()
    _foreign_lock(out, age_s=10)
    with pytest.raises(SweepLockedError, match="pid 4242 on host node-elsewhere") as refused:
        Sweep.from_manifest(out).resume()
    assert "120 s (GMAT_SWEEP_LOCK_LEASE_S)" in str(refused.value)
    assert json.loads((out / LOCK_NAME).read_text())["token"] == "f" * 32  # untouched

    _foreign_lock(out, age_s=121)  # the node died: nobody renewed it for a whole lease
    with pytest.warns(UserWarning, match="pid 4242 on host node-elsewhere.*not renewed for"):
        df = Sweep.from_manifest(out).resume()
    took_over = manifest_lines(out, "session")[-1]["took_over"]
    assert took_over["host"] == "node-elsewhere" and took_over["what"] == "run"
    assert took_over["reason"].startswith("not renewed for 12")  # 121 s and counting
    assert took_over["reason"].endswith("(lease 120 s)")
    assert (df["__status"] == "ok").all()
    assert not (out / LOCK_NAME).exists()


def _grid(n: int) -> object:
    from gmat_sweep.designs import Grid

    return Grid({"Sat.SMA": SMAS[:n]})


def test_the_holder_renews_its_lease_and_stops_writing_once_it_lost_the_lock(
    gmat_with: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gmat_with(run_cost_s=0.25)
    monkeypatch.setenv("GMAT_SWEEP_LOCK_LEASE_S", "1")
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    out = tmp_path / "stalled"
    seen: dict[str, object] = {}

    def take_over() -> None:
        # Wait until the holder has renewed its lock at least once, then take it over as
        # a driver on another node would after this one stalled for a whole lease.
        if wait_until(lambda: len(manifest_lines(out, "run")) >= 2, timeout=60):
            created = (out / LOCK_NAME).stat().st_mtime
            seen["renewed"] = wait_until(lambda: (out / LOCK_NAME).stat().st_mtime > created, 5)
            _foreign_lock(out, age_s=0)
            seen["committed"] = len(manifest_lines(out, "run"))

    thread = threading.Thread(target=take_over, daemon=True)
    thread.start()
    sweep = Sweep(SCRIPT, _grid(24), out=out, backend="local", progress=False)
    with pytest.raises(SweepLockLostError, match="lost the lock .* pid 4242 on host node-else"):
        sweep.run()
    thread.join(timeout=5)
    assert seen["renewed"] is True
    # Nothing was committed after the take-over (a group being written then may finish).
    assert len(manifest_lines(out, "run")) <= int(seen["committed"]) + 2  # type: ignore[call-overload]
    assert json.loads((out / LOCK_NAME).read_text())["token"] == "f" * 32  # left to its holder


def test_a_bad_lease_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_SWEEP_LOCK_LEASE_S", "soon")
    with pytest.raises(SweepConfigError, match="GMAT_SWEEP_LOCK_LEASE_S='soon'"):
        SweepLock(tmp_path)


def test_a_killed_holder_not_yet_reaped_does_not_hold_the_lock(tmp_path: Path) -> None:
    # A driver SIGKILLed whose parent has not waited for it yet is a zombie: its pid
    # still answers kill(pid, 0), but it will never renew or release its lock.
    out = tmp_path / "zombie"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from gmat_sweep.lock import SweepLock\n"
         f"lock = SweepLock({str(out)!r}); lock.acquire()\nprint('held', flush=True)\n"
         "import time; time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(SweepLockedError, match=f"pid {holder.pid} "):
            SweepLock(out).acquire()
        os.kill(holder.pid, signal.SIGKILL)
        assert wait_until(
            lambda: Path(f"/proc/{holder.pid}/stat").read_text().split(") ")[1][0] == "Z"
        )
        with SweepLock(out) as lock:  # taken over while the zombie is still in the table
            assert json.loads((out / LOCK_NAME).read_text())["token"] == lock.token
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_from_before_this_host_rebooted_is_taken_over_at_once(tmp_path: Path) -> None:
    # Same host name, another boot id: whatever pid it names, that process is gone.
    path = tmp_path / LOCK_NAME
    record = {"host": socket.gethostname(), "pid": os.getpid(), "boot": "an-earlier-boot",
              "start": "1", "token": "e" * 32, "what": "run", "since": "2026-01-01"}  # fmt: skip
    path.write_text(json.dumps(record) + "\n")
    with SweepLock(tmp_path) as lock:  # our own pid, but recorded in another boot
        assert json.loads(path.read_text())["token"] == lock.token
    assert not path.exists()
