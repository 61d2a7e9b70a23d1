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
  host. A host stopped from outside (SIGTERM, SIGHUP, SIGINT: a cancelled job, a node
  shutting down) makes its run ``lost``, which the driver runs again. A run that exceeds
  ``spec.timeout`` has its host's process group killed and ends as ``timeout``.

Each attempt runs in a private directory in node-local scratch (``$GMAT_SWEEP_SCRATCH``,
else the system's temporary directory; inside this process's own folder there, see
:func:`process_scratch`), so workers need no filesystem shared with the driver. The
run's parsed outputs travel back in its outcome; a run that did not end ok brings its
logs back too. The directory is removed when the attempt ends, unless the
spec asks to keep GMAT's files (``keep_files``): then it becomes
``<out>/runs/<run_id>/``, replacing an earlier attempt's files.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gmat_sweep import hosts
from gmat_sweep.hosts import GmatHost, HostDied, shutdown_hosts
from gmat_sweep.processes import STOP_SIGNALS, describe_exit, pid_alive
from gmat_sweep.spec import (
    LOG_LIMIT_CHARS,
    ErrorInfo,
    RunOutcome,
    RunSpec,
    Status,
    applied_digest,
    run_dir_name,
)

__all__ = [
    "execute_batch",
    "execute_run",
    "execute_run_in_process",
    "scratch_root",
    "shutdown_hosts",
]

_STDERR_TAIL_CHARS = 4000
_LOG_NAMES = ("GmatLog.txt", "worker.log")


def scratch_root() -> Path:
    """Where attempts run: ``$GMAT_SWEEP_SCRATCH`` if set, else the temporary directory."""
    return Path(os.environ.get("GMAT_SWEEP_SCRATCH") or tempfile.gettempdir())


_scripts_lock = threading.Lock()
_scripts: dict[tuple[str, str], Path] = {}
_process_dir: list[Path] = []
#: How each process's scratch folder is named: ``<prefix><pid>-<random>``.
PROCESS_SCRATCH_PREFIX = "gmat-sweep-scratch-"


def process_scratch() -> Path:
    """This process's folder in scratch (``gmat-sweep-scratch-<pid>-*``), made on first use.

    Attempts and scripts live in it; it is removed when the process exits, and folders
    left by processes of this machine that died without exiting (SIGKILL, OOM kill) are
    removed when another process makes its own.

    Raises:
        OSError: scratch is not writable.
    """
    with _scripts_lock:
        if not _process_dir:
            root = scratch_root()
            _remove_dead_processes_scratch(root)
            folder = tempfile.mkdtemp(prefix=f"{PROCESS_SCRATCH_PREFIX}{os.getpid()}-", dir=root)
            _process_dir.append(Path(folder))
            atexit.register(remove_process_scratch)
        return _process_dir[0]


def remove_process_scratch() -> None:
    """Remove this process's scratch folder and forget the scripts in it (at exit)."""
    wait_for_removals()
    with _scripts_lock:
        for directory in _process_dir:
            shutil.rmtree(directory, ignore_errors=True)
        _process_dir.clear()
        _scripts.clear()


_removals: queue.Queue[Path] = queue.Queue()
_remover_lock = threading.Lock()
_remover: list[threading.Thread] = []


def _remove_later(folder: Path) -> None:
    """Remove a finished attempt's scratch folder from a background thread, so that the
    caller's next run goes to GMAT without waiting for the file system (about 1 ms a run,
    during which the GMAT host would idle: 2 % of a 50 ms run)."""
    with _remover_lock:
        if not _remover:
            remover = threading.Thread(
                target=_remove_forever, daemon=True, name="gmat-sweep-scratch-remover"
            )
            remover.start()
            _remover.append(remover)
    _removals.put(folder)


def _remove_forever() -> None:
    while True:
        folder = _removals.get()
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            _removals.task_done()


def wait_for_removals() -> None:
    """Return once every attempt's scratch folder handed to the background remover is
    gone (at exit, and for a caller that must see scratch empty)."""
    _removals.join()


def _remove_dead_processes_scratch(root: Path) -> None:
    try:
        entries = list(root.glob(f"{PROCESS_SCRATCH_PREFIX}*-*"))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(PROCESS_SCRATCH_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            shutil.rmtree(entry, ignore_errors=True)


def _script_path(spec: RunSpec) -> str:
    """The script file to load, decided once per process and script.

    The file at ``spec.script`` when this machine sees it with the same content (the
    local pool; workers on a shared filesystem); otherwise the text the spec carries,
    written once into a scratch folder removed when the process exits.
    """
    if not spec.script_text:
        return spec.script
    key = (spec.script_sha256, spec.script)
    with _scripts_lock:
        path = _scripts.get(key)
    if path is None or not path.is_file():
        path = _local_copy(spec) or _materialise(spec)
        with _scripts_lock:
            _scripts[key] = path
    return str(path)


def _local_copy(spec: RunSpec) -> Path | None:
    from gmat_sweep.preflight import canonical_sha256

    path = Path(spec.script)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    same = canonical_sha256(text) == canonical_sha256(spec.script_text)
    return path if same else None


def _materialise(spec: RunSpec) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="script-", dir=process_scratch()))
    path = folder / (Path(spec.script).name or "mission.script")
    path.write_text(spec.script_text, encoding="utf-8")
    return path


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _local_fingerprint() -> dict[str, str]:
    from gmat_sweep.host import _fingerprint

    return _fingerprint()


def _tail(path: Path, chars: int = _STDERR_TAIL_CHARS) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def _finalize(staging: Path, out_dir: Path, run_id: int) -> Path:
    """Move the attempt's scratch directory to ``<out_dir>/runs/<run_id>``, replacing old files.

    The files are copied into a hidden directory beside the target first (scratch is
    usually another filesystem), so ``runs/<run_id>`` never holds two attempts' files.
    """
    runs = out_dir / "runs"
    runs.mkdir(exist_ok=True)  # never out_dir itself: one this worker cannot see is an error
    final = runs / run_dir_name(run_id)
    landing = runs / f".{final.name}.new-{uuid.uuid4().hex[:8]}"
    shutil.copytree(staging, landing)
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(landing, final)
    shutil.rmtree(staging, ignore_errors=True)
    return final


def _sees_the_sweep(out_dir: Path, wait_s: float = 5.0) -> bool:
    """Whether this machine sees the sweep's manifest at ``out_dir`` (waiting a little: a
    shared filesystem may show another node's new file late)."""
    from gmat_sweep.manifest import MANIFEST_NAME

    deadline = time.monotonic() + wait_s
    while not (out_dir / MANIFEST_NAME).is_file():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def _blind_to_out(spec: RunSpec) -> ErrorInfo:
    return ErrorInfo(
        "SweepConfigError",
        f"keep_gmat_files=True keeps each run's GMAT files in {spec.out_dir}/runs/, so the "
        f"workers must see the sweep directory {spec.out_dir} at that path, and this worker "
        f"({socket.gethostname()}) does not (no manifest.jsonl there). GMAT was not run. "
        "Mount the sweep directory on the workers at the same path, or run without "
        "keep_gmat_files (the runs' outputs come back to the driver either way).",
    )


class _Attempt:
    """Bookkeeping of one attempt: its scratch directory, clock and fingerprint."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.started_at, self._t0 = _now(), time.perf_counter()
        prefix = f"gmat-sweep-{run_dir_name(spec.run_id)}-a{spec.attempt}-"
        self.staging = Path(tempfile.mkdtemp(prefix=prefix, dir=process_scratch()))
        self.fingerprint: dict[str, str] = {}
        self.keep_files = spec.keep_files  # GMAT's files go to out/runs/ at the end

    def log_tail(self) -> str:
        return _tail(self.staging / "worker.log")

    def _logs(self) -> str:
        """The attempt's log files, whole (the end of them, past LOG_LIMIT_CHARS)."""
        parts = []
        for name in _LOG_NAMES:
            text = _tail(self.staging / name, LOG_LIMIT_CHARS)
            if text:
                parts.append(f"==> {name} <==\n{text}{'' if text.endswith(chr(10)) else chr(10)}")
        return "".join(parts)[-LOG_LIMIT_CHARS:]

    def _dispose(self) -> None:
        """Keep GMAT's files in ``runs/<run_id>`` (``keep_files``) or remove them."""
        if self.keep_files:
            _finalize(self.staging, Path(self.spec.out_dir), self.spec.run_id)
        else:
            _remove_later(self.staging)

    def outcome(
        self,
        status: Status,
        *,
        tables: dict[str, bytes] | None = None,
        error: ErrorInfo | None = None,
        warnings: tuple[str, ...] = (),
        solvers: dict[str, Any] | None = None,
    ) -> RunOutcome:
        """Describe the attempt, bringing its logs when it did not end ok; dispose of its files."""
        log = "" if status is Status.OK else self._logs()
        try:
            self._dispose()
        except OSError as exc:
            message = f"keeping GMAT's files in {self.spec.out_dir}/runs: {exc}"
            status, error, tables = Status.FAILED, ErrorInfo(type(exc).__name__, message), None
            shutil.rmtree(self.staging, ignore_errors=True)
        return RunOutcome(
            run_id=self.spec.run_id,
            attempt=self.spec.attempt,
            status=status,
            tables=dict(tables or {}) if status is Status.OK else {},
            started_at=self.started_at,
            ended_at=_now(),
            duration_s=time.perf_counter() - self._t0,
            fingerprint=self.fingerprint or _local_fingerprint(),
            error=error,
            warnings=warnings,
            log=log,
            applied=applied_digest(self.spec),
            solvers=dict(solvers or {}),
        )

    def from_reply(self, reply: dict[str, Any]) -> RunOutcome:
        error = ErrorInfo.from_json(reply["error"]) if reply.get("error") else None
        return self.outcome(
            Status(reply["status"]),
            tables=dict(reply.get("tables", {})),
            error=error,
            warnings=tuple(reply.get("warnings", ())),
            solvers=dict(reply.get("solvers") or {}),
        )


def execute_run(spec: RunSpec, *, reuse_gmat_context: bool = True) -> RunOutcome:
    """Run one spec in a GMAT host and return how it ended. Never raises.

    The outcome carries the run's parsed outputs (``report__<Name>``, ``ephemeris__``,
    ``contact__``, ``solver__``) as Arrow IPC bytes, and the run's logs when it did not
    end ok; GMAT's own files are removed unless ``spec.keep_files``.
    """
    try:
        attempt = _Attempt(spec)
    except OSError as exc:
        return _no_scratch(spec, exc)
    if spec.keep_files and not _sees_the_sweep(Path(spec.out_dir)):
        attempt.keep_files = False  # nowhere to keep them
        return attempt.outcome(Status.FAILED, error=_blind_to_out(spec))
    host: GmatHost | None = None
    try:
        host = hosts.acquire(hosts.host_key(spec.script_sha256 or spec.script), reuse_gmat_context)
        attempt.fingerprint = host.fingerprint
        if host.start_error is not None:
            hosts.release(host, reuse_gmat_context, healthy=False)
            return attempt.outcome(Status.FAILED, error=ErrorInfo.from_json(host.start_error))
        request = {
            "op": "run",
            "script": _script_path(spec),
            "overrides": dict(spec.overrides),
            "workdir": str(attempt.staging),
            "retention": dict(spec.retention),
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
            if code is not None and -code in STOP_SIGNALS:
                message = (
                    f"the GMAT process was stopped from outside during this run "
                    f"({describe_exit(code)}: a cancelled job, a node shutting down?); "
                    "the run is not at fault and is run again"
                )
                return attempt.outcome(Status.LOST, error=ErrorInfo("Stopped", message))
            message = f"the GMAT process died during this run ({describe_exit(code)})"
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

    try:
        attempt = _Attempt(spec)
    except OSError as exc:
        return _no_scratch(spec, exc)
    try:
        attempt.fingerprint = _local_fingerprint()
        reply = run_mission(
            _script_path(spec),
            dict(spec.overrides),
            attempt.staging,
            retention=spec.retention,
            redirect=False,
        )
        return attempt.from_reply(reply)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return attempt.outcome(Status.FAILED, error=ErrorInfo(type(exc).__name__, str(exc)))


def _no_scratch(spec: RunSpec, exc: OSError) -> RunOutcome:
    message = (
        f"cannot make the run's scratch directory in {scratch_root()}: {exc}. Point "
        "GMAT_SWEEP_SCRATCH at a writable node-local directory with free space."
    )
    return RunOutcome(
        run_id=spec.run_id,
        attempt=spec.attempt,
        status=Status.FAILED,
        started_at=_now(),
        ended_at=_now(),
        fingerprint=_local_fingerprint(),
        error=ErrorInfo(type(exc).__name__, message),
        applied=applied_digest(spec),
    )
