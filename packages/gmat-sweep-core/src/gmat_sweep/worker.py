"""execute_batch and execute_run: what every backend runs in its worker, for every run.

Written once in core so that isolation, timeouts and output writing behave the same
on every backend. A pool ships a batch of specs and calls :func:`execute_batch`, which
calls :func:`execute_run` for each. Neither raises (KeyboardInterrupt excepted): every
way a run can end becomes a :class:`~gmat_sweep.spec.RunOutcome`.

GMAT itself runs in a child "GMAT host" process (:mod:`gmat_sweep.host`; which host
serves a run is :mod:`gmat_sweep.hosts`'s business):

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

import os
import shutil
import signal
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gmat_sweep import hosts
from gmat_sweep.hosts import GmatHost, HostDied, shutdown_hosts
from gmat_sweep.spec import ErrorInfo, RunOutcome, RunSpec, Status, run_dir_name

__all__ = ["execute_batch", "execute_run", "execute_run_in_process", "shutdown_hosts"]

_STDERR_TAIL_CHARS = 4000


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
    host: GmatHost | None = None
    try:
        attempt.staging.mkdir(parents=True, exist_ok=False)
        host = hosts.acquire(hosts.host_key(spec.script_sha256 or spec.script), reuse_gmat_context)
        attempt.fingerprint = host.fingerprint
        if host.start_error is not None:
            hosts.release(host, reuse_gmat_context, healthy=False)
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
            hosts.release(host, reuse_gmat_context, healthy=False)
            message = f"run exceeded the timeout of {spec.timeout:g} s; its GMAT process was killed"
            error = ErrorInfo("Timeout", message, attempt.log_tail())
            return attempt.outcome(Status.TIMEOUT, error=error)
        except HostDied:
            code = host.kill()
            hosts.release(host, reuse_gmat_context, healthy=False)
            message = f"the GMAT process died during this run ({_signal_name(code)})"
            error = ErrorInfo("Crashed", message, attempt.log_tail())
            return attempt.outcome(Status.CRASHED, error=error)
        hosts.release(host, reuse_gmat_context, healthy=True)
        return attempt.from_reply(reply)
    except KeyboardInterrupt:
        if host is not None:
            hosts.release(host, reuse_gmat_context, healthy=False)
        raise
    except BaseException as exc:  # never raise: any surprise fails only this run
        if host is not None:
            hosts.release(host, reuse_gmat_context, healthy=False)
        return attempt.outcome(Status.FAILED, error=ErrorInfo(type(exc).__name__, str(exc)))


def execute_batch(specs: Sequence[RunSpec], *, reuse_gmat_context: bool = True) -> list[RunOutcome]:
    """Run each spec of a batch in turn with :func:`execute_run`; one outcome per spec, in order.

    What every pool runs in its worker. Each run keeps its own timeout, crash isolation,
    attempt and outcome: a run that crashes or times out does not affect the next one
    (which gets a fresh GMAT host). Never raises (KeyboardInterrupt excepted).
    """
    return [execute_run(spec, reuse_gmat_context=reuse_gmat_context) for spec in specs]


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
