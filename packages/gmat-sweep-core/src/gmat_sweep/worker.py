"""execute_run: what every backend runs in its worker process, for every run.

Written once in core so that isolation, timeouts and output writing behave the same
on every backend. ``execute_run`` never raises (KeyboardInterrupt excepted): every
way a run can end becomes a :class:`~gmat_sweep.spec.RunOutcome`.

GMAT itself runs in a child "GMAT host" process (:mod:`gmat_sweep.host`):

- ``reuse_gmat_context=True``: the host outlives the run and serves the next one, so
  GMAT's start-up cost is paid once per worker process. A host is bound to one
  script (by content hash) and one ``GMAT_ROOT``; a run of another script gets a
  fresh host.
- ``reuse_gmat_context=False``: a fresh host for every run.
- A host that dies mid-run (segfault, abort, OOM kill) fails only that run, as
  ``crashed`` with the signal and the tail of its stderr; the next run gets a new
  host. A run that exceeds ``spec.timeout`` has its host's process group killed and
  ends as ``timeout``.

Each run writes into a private staging directory, which becomes
``<out>/runs/<run_id>/`` when the attempt ends (whatever the status), so a retried
or resumed run never mixes files from two attempts.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from gmat_sweep.spec import ErrorInfo, RunOutcome, RunSpec, Status, run_dir_name

__all__ = ["execute_run", "execute_run_in_process", "shutdown_hosts"]

_STDERR_TAIL_CHARS = 4000
_HOST_START_TIMEOUT_S = 600.0


class HostDied(Exception):
    """The GMAT host process ended while we waited for its reply."""


class _Host:
    """One GMAT host child process and the pipes to it."""

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self.log_path = Path(tempfile.gettempdir()) / f"gmat-sweep-host-{uuid.uuid4().hex}.log"
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gmat_sweep.host",
                    str(request_read),
                    str(reply_write),
                    str(self.log_path),
                ],
                pass_fds=(request_read, reply_write),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._requests = Connection(request_write, readable=False, writable=True)
        self._replies = Connection(reply_read, readable=True, writable=False)
        self.fingerprint: dict[str, str] = {}
        self.start_error: dict[str, str] | None = None

    def hello(self) -> None:
        reply = self.call({"op": "hello"}, timeout=_HOST_START_TIMEOUT_S)
        self.fingerprint = dict(reply.get("fingerprint", {}))
        self.start_error = reply.get("error")

    def call(self, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """Send ``request`` and wait up to ``timeout`` s for the reply.

        Raises:
            TimeoutError: no reply in time (the host is still running).
            HostDied: the host exited first.
        """
        try:
            self._requests.send(request)
        except OSError as exc:
            raise HostDied(str(exc)) from exc
        if not self._replies.poll(timeout):
            raise TimeoutError
        try:
            reply = self._replies.recv()
        except (EOFError, OSError) as exc:
            raise HostDied(str(exc)) from exc
        return dict(reply)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int | None:
        """Kill the host's whole process group; return its exit code."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.wait()

    def wait(self) -> int | None:
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.alive():
            try:
                self._requests.send({"op": "exit"})
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        for conn in (self._requests, self._replies):
            conn.close()
        self.log_path.unlink(missing_ok=True)


# One reusable host per worker thread: a pool may run several runs at once in one
# process (Dask with threads_per_worker > 1), and a host serves one run at a time.
_local = threading.local()
_all_hosts: set[_Host] = set()
_all_hosts_lock = threading.Lock()


def _current() -> _Host | None:
    host: _Host | None = getattr(_local, "host", None)
    return host


def _set_current(host: _Host | None) -> None:
    _local.host = host


def shutdown_hosts() -> None:
    """Stop every reused GMAT host of this process. Safe to call at any time."""
    with _all_hosts_lock:
        hosts = list(_all_hosts)
        _all_hosts.clear()
    for host in hosts:
        host.close()
    _set_current(None)


atexit.register(shutdown_hosts)


def _forget(host: _Host) -> None:
    with _all_hosts_lock:
        _all_hosts.discard(host)
    if _current() is host:
        _set_current(None)


def _acquire_host(key: tuple[str, str], reuse: bool) -> _Host:
    current = _current()
    if reuse and current is not None and current.key == key and current.alive():
        return current
    if current is not None:
        _forget(current)
        current.close()
    host = _Host(key)
    with _all_hosts_lock:
        _all_hosts.add(host)
    host.hello()
    if reuse:
        _set_current(host)
    return host


def _release_host(host: _Host, reuse: bool, healthy: bool) -> None:
    if reuse and healthy:
        return
    _forget(host)
    if healthy:
        host.close()
    else:
        host.kill()
        host.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _local_fingerprint() -> dict[str, str]:
    from gmat_sweep.host import _fingerprint

    return _fingerprint()


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-_STDERR_TAIL_CHARS:]
    except OSError:
        return ""


def _finalize(staging: Path, out_dir: Path, run_id: int) -> Path:
    """Move the attempt's staging directory to ``runs/<run_id>``, replacing old files."""
    final = out_dir / "runs" / run_dir_name(run_id)
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(staging, final)
    return final


def _signal_name(returncode: int | None) -> str:
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class _Attempt:
    """Bookkeeping of one attempt: its staging directory, clock and fingerprint."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.started_at, self._t0 = _now(), time.perf_counter()
        self.out_dir = Path(spec.out_dir)
        name = f".{run_dir_name(spec.run_id)}.attempt{spec.attempt}-{uuid.uuid4().hex[:8]}"
        self.staging = self.out_dir / "runs" / name
        self.fingerprint: dict[str, str] = {}

    def log_tail(self) -> str:
        return _tail(self.staging / "worker.log")

    def outcome(
        self,
        status: Status,
        *,
        outputs: dict[str, str] | None = None,
        error: ErrorInfo | None = None,
        warnings: tuple[str, ...] = (),
    ) -> RunOutcome:
        """Finalize the staging directory and describe the attempt."""
        rel: dict[str, str] = {}
        try:
            if self.staging.exists():
                final = _finalize(self.staging, self.out_dir, self.spec.run_id)
                prefix = f"runs/{final.name}/"
                rel = {k: prefix + v for k, v in (outputs or {}).items()}
        except OSError as exc:
            status, error = Status.FAILED, ErrorInfo(type(exc).__name__, f"saving outputs: {exc}")
            rel = {}
        return RunOutcome(
            run_id=self.spec.run_id,
            attempt=self.spec.attempt,
            status=status,
            outputs=rel,
            started_at=self.started_at,
            ended_at=_now(),
            duration_s=time.perf_counter() - self._t0,
            fingerprint=self.fingerprint or _local_fingerprint(),
            error=error,
            warnings=warnings,
        )

    def from_reply(self, reply: dict[str, Any]) -> RunOutcome:
        error = ErrorInfo.from_json(reply["error"]) if reply.get("error") else None
        return self.outcome(
            Status(reply["status"]),
            outputs=dict(reply.get("outputs", {})),
            error=error,
            warnings=tuple(reply.get("warnings", ())),
        )


def execute_run(spec: RunSpec, *, reuse_gmat_context: bool = True) -> RunOutcome:
    """Run one spec in a GMAT host and return how it ended. Never raises.

    Outputs land in ``<spec.out_dir>/runs/<run_id>/`` as
    ``report__<Name>.parquet`` (and ``ephemeris__``, ``contact__``, ``solver__``),
    beside GMAT's raw outputs, ``GmatLog.txt`` and ``worker.log``. The outcome's
    ``outputs`` are relative to ``spec.out_dir``.
    """
    attempt = _Attempt(spec)
    host: _Host | None = None
    try:
        attempt.staging.mkdir(parents=True, exist_ok=False)
        key = (spec.script_sha256 or spec.script, os.environ.get("GMAT_ROOT", ""))
        host = _acquire_host(key, reuse_gmat_context)
        attempt.fingerprint = host.fingerprint
        if host.start_error is not None:
            _release_host(host, reuse_gmat_context, healthy=False)
            return attempt.outcome(Status.FAILED, error=ErrorInfo.from_json(host.start_error))
        request = {
            "op": "run",
            "script": spec.script,
            "overrides": dict(spec.overrides),
            "workdir": str(attempt.staging),
        }
        try:
            reply = host.call(request, timeout=spec.timeout)
        except TimeoutError:
            host.kill()
            _release_host(host, reuse_gmat_context, healthy=False)
            message = f"run exceeded the timeout of {spec.timeout:g} s; its GMAT process was killed"
            error = ErrorInfo("Timeout", message, attempt.log_tail())
            return attempt.outcome(Status.TIMEOUT, error=error)
        except HostDied:
            code = host.kill()
            _release_host(host, reuse_gmat_context, healthy=False)
            message = f"the GMAT process died during this run ({_signal_name(code)})"
            error = ErrorInfo("Crashed", message, attempt.log_tail())
            return attempt.outcome(Status.CRASHED, error=error)
        _release_host(host, reuse_gmat_context, healthy=True)
        return attempt.from_reply(reply)
    except KeyboardInterrupt:
        if host is not None:
            host.kill()
            _release_host(host, reuse_gmat_context, healthy=False)
        raise
    except BaseException as exc:  # never raise: any surprise fails only this run
        if host is not None:
            host.kill()
            _release_host(host, reuse_gmat_context, healthy=False)
        return attempt.outcome(Status.FAILED, error=ErrorInfo(type(exc).__name__, str(exc)))


def execute_run_in_process(spec: RunSpec) -> RunOutcome:
    """Run one spec in this very process, for debugging (see :class:`DebugPool`).

    GMAT is loaded into the calling process, so ``breakpoint()`` and debuggers work,
    output goes to this process's terminal, no timeout is enforced and a GMAT crash
    ends this process. Never raises otherwise.
    """
    from gmat_sweep.host import run_mission

    attempt = _Attempt(spec)
    try:
        attempt.staging.mkdir(parents=True, exist_ok=False)
        attempt.fingerprint = _local_fingerprint()
        reply = run_mission(spec.script, dict(spec.overrides), attempt.staging, redirect=False)
        return attempt.from_reply(reply)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return attempt.outcome(Status.FAILED, error=ErrorInfo(type(exc).__name__, str(exc)))
