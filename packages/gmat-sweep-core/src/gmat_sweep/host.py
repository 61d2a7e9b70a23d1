"""The GMAT host: a child process that owns one GMAT engine and runs missions on it.

Started by :mod:`gmat_sweep.hosts` as ``python -m gmat_sweep.host REQ_FD RESP_FD``, or
forked by the host fork server (:mod:`gmat_sweep.forkserver`, which calls :func:`preload`
once and :func:`serve_forked` in each child). It talks over two pipes with pickled
messages (``multiprocessing.connection``), so nothing GMAT prints can corrupt the
protocol: the host's own stdout and stderr go to the null device, and during a run to
that run's ``worker.log``.

Requests and replies (dicts):

- ``{"op": "hello"}`` -> ``{"fingerprint": {...}, "error": str | None}``; bootstraps
  GMAT so its start-up cost is paid once per host.
- ``{"op": "run", "script", "overrides", "workdir", "retention"}`` -> ``{"status": "ok" |
  "failed", "tables": {output key: Arrow IPC bytes}, "error": {...} | None, "warnings":
  [...], "solvers": {solver name: summary}}``: the outputs the sweep's retention keeps
  (:mod:`gmat_sweep.retention`; ``retention`` is its JSON form, optional), encoded by
  :mod:`gmat_sweep.outputs`, and how each Target/Optimize solver ended (whatever the
  retention keeps; :func:`gmat_sweep.convergence.solver_outputs`). GMAT's own files
  stay in ``workdir``.
- ``{"op": "validate", "script", "override_sets"}`` -> ``{"load_error": {...} | None,
  "field_errors": [{"path", "value", "message"}]}``: loads the script and applies
  each set of overrides without running, for the driver's checks before a sweep.
- ``{"op": "exit"}``, or end of file on the request pipe: the host exits.

The host exits by itself when the process that uses it goes away: its parent when it was
spawned, the writer of its request pipe when it was forked by the fork server.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["ScriptLoadError", "main", "preload", "run_mission", "serve", "serve_forked"]

_LOG_TAIL_CHARS = 4000
_LOAD_LOG_CHARS = 1_000_000


def _watch_parent(parent_pid: int) -> None:
    """Exit the host when the process that started it dies (it is re-parented)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(70)


def _watch_requests(request_fd: int) -> None:
    """Exit the host when every writer of its request pipe is gone (the process that uses
    it died): the read end then reports a hang-up."""
    import select

    poller = select.poll()
    poller.register(request_fd, 0)  # hang-ups and errors are reported whatever the mask
    while True:
        for _, event in poller.poll():
            if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                os._exit(70)


def _redirect_output(path: Path) -> None:
    """Point this process's fd 1 and 2 (including C-level writes) at ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _fingerprint() -> dict[str, str]:
    import platform
    import socket
    from importlib.metadata import PackageNotFoundError, version

    from gmat_sweep._version import __version__

    try:
        gmat_run_version = version("gmat-run")
    except PackageNotFoundError:  # pragma: no cover - gmat-run is a dependency
        gmat_run_version = "unknown"
    fingerprint = {
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "gmat_sweep_core": __version__,
        "gmat_run": gmat_run_version,
        "gmat": "unknown",
    }
    try:
        from gmat_run import locate_gmat

        install = locate_gmat()
        fingerprint["gmat"] = install.version or "unknown"
    except Exception:
        pass
    return fingerprint


def _error(exc: BaseException, log: str = "") -> dict[str, str]:
    message = str(exc) or type(exc).__name__
    gmat_log = getattr(exc, "log", "") or log
    return {
        "type": type(exc).__name__,
        "message": message,
        "log_tail": gmat_log[-_LOG_TAIL_CHARS:] if isinstance(gmat_log, str) else "",
    }


def _hello() -> dict[str, Any]:
    fingerprint = _fingerprint()
    try:
        from gmat_run import bootstrap, locate_gmat

        bootstrap(locate_gmat())
    except Exception as exc:
        return {"fingerprint": fingerprint, "error": _error(exc)}
    return {"fingerprint": fingerprint, "error": None}


def _apply_overrides(mission: Any, overrides: Mapping[str, Any]) -> None:
    for path, value in overrides.items():
        mission[_field_path(path)] = value


def _field_path(path: str) -> str:
    """A bare Variable name (``TOF``) is addressed as ``TOF.Value`` by gmat-run."""
    return path if "." in path else f"{path}.Value"


def run_mission(
    script: str,
    overrides: Mapping[str, Any],
    workdir: Path,
    *,
    retention: Mapping[str, Any] | None = None,
    redirect: bool = True,
) -> dict[str, Any]:
    """Load ``script``, apply ``overrides``, run it in ``workdir``, encode what it keeps.

    With ``redirect``, this process's stdout and stderr go to ``workdir/worker.log``
    for the duration of the run. Returns a reply dict; never raises for GMAT errors or
    for a failing postprocess function (the run fails, with its traceback).
    """
    from gmat_sweep.outputs import encode_frame
    from gmat_sweep.retention import apply_retention

    workdir.mkdir(parents=True, exist_ok=True)
    if redirect:
        _redirect_output(workdir / "worker.log")
    try:
        mission = _load(script, workdir / "GmatLog.txt")
        _apply_overrides(mission, overrides)
        results = mission.run(working_dir=workdir, overwrite=True)
        outputs, warnings, solvers = _parsed_outputs(results)
        kept = apply_retention(retention or {}, outputs)
        tables = {key: encode_frame(frame) for key, frame in kept.items()}
    except Exception as exc:
        traceback.print_exc()
        log = _read_tail(workdir / "GmatLog.txt")
        return {"status": "failed", "tables": {}, "error": _error(exc, log), "warnings": []}
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return {
        "status": "ok",
        "tables": tables,
        "error": None,
        "warnings": warnings,
        "solvers": solvers,
    }


def _run(request: Mapping[str, Any]) -> dict[str, Any]:
    return run_mission(
        request["script"],
        request["overrides"],
        Path(request["workdir"]),
        retention=request.get("retention"),
    )


def _parsed_outputs(results: Any) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """Every output gmat-run parsed (DataFrames keyed ``<kind>__<Name>``), warnings, and
    how each solver ended (:func:`gmat_sweep.convergence.solver_outputs`)."""
    from gmat_sweep.convergence import solver_outputs

    outputs: dict[str, Any] = {}
    solver_frames, solvers, warnings = solver_outputs(results)
    kinds = (
        ("report", results.reports),
        ("ephemeris", results.ephemerides),
        ("contact", results.contacts),
        ("solver", solver_frames),
    )
    for kind, mapping in kinds:
        for name in mapping:
            key = f"{kind}__{name}"
            frame = mapping[name]
            if frame.empty:
                warnings.append(f"{kind} {name!r} is empty")
            outputs[key] = frame
    return outputs, warnings, solvers


def _validate(request: Mapping[str, Any]) -> dict[str, Any]:
    import tempfile

    from gmat_run import GmatFieldError

    try:
        with tempfile.TemporaryDirectory(prefix="gmat-sweep-load-") as folder:
            mission = _load(request["script"], Path(folder) / "GmatLog.txt")
    except Exception as exc:
        return {"load_error": _error(exc), "field_errors": []}
    field_errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for overrides in request["override_sets"]:
        for path, value in overrides.items():
            try:
                mission[_field_path(path)] = value
            except GmatFieldError as exc:
                if path not in seen:
                    seen.add(path)
                    field_errors.append({"path": path, "value": repr(value), "message": str(exc)})
    return {"load_error": None, "field_errors": field_errors}


class ScriptLoadError(Exception):
    """GMAT could not parse the script; the message carries GMAT's own error lines."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(message)
        self.log = log


def _load(script: str, log_path: Path) -> Any:
    """``Mission.load(script)``, with GMAT's log pointed at ``log_path`` while it parses.

    gmat-run's error for a script GMAT cannot parse says only to check the GMAT log;
    this raises :class:`ScriptLoadError` with GMAT's ``ERROR`` lines in its message
    instead (e.g. ``The "GroundStation" is an unknown object type``, from a GMAT built
    without that plugin).
    """
    from gmat_run import GmatLoadError, Mission

    use_log = getattr(_gmat_module(), "UseLogFile", None)
    if use_log is not None:
        use_log(str(log_path))
    try:
        return Mission.load(script)
    except GmatLoadError as exc:
        try:  # the whole log (a parse log is small): its first error is what matters
            log = log_path.read_text(encoding="utf-8", errors="replace")[:_LOAD_LOG_CHARS]
        except OSError:
            log = ""
        first = _first_gmat_error(log)
        if first is None:
            raise
        raise ScriptLoadError(f"GMAT could not parse {script!r}: {first}", log) from exc
    finally:
        if use_log is not None:
            use_log(os.devnull)


_gmat: list[Any] = []


def _gmat_module() -> Any:
    """The gmatpy module this host bootstrapped (once: a host serves one GMAT_ROOT)."""
    if not _gmat:
        from gmat_run import bootstrap, locate_gmat

        _gmat.append(bootstrap(locate_gmat()))
    return _gmat[0]


def _first_gmat_error(log: str) -> str | None:
    """GMAT's first ``**** ERROR ****`` of a log, with the script line it quotes, and how
    many more there are; None when the log has none."""
    lines = log.splitlines()
    marker = "**** ERROR **** "
    found = [i for i, line in enumerate(lines) if marker in line]
    if not found:
        return None
    first = found[0]
    text = lines[first].split(marker, 1)[1].strip()
    quoted = lines[first + 1].strip() if first + 1 < len(lines) else ""
    if quoted.startswith('"'):
        text += " " + " ".join(quoted.split())
    if len(found) > 1:
        text += f" (and {len(found) - 1} more errors in GMAT's log)"
    return text


def _read_tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL_CHARS:]
    except OSError:
        return ""


def serve(requests: Connection, replies: Connection) -> None:
    """Answer requests until ``exit`` or end of file on ``requests``.

    Between runs, GMAT's output goes to the null device: nothing reads it, and a file for
    it would outlive a host that is killed (each run's output goes to its worker.log).
    """
    idle_log = Path(os.devnull)
    _redirect_output(idle_log)
    handlers = {"hello": lambda r: _hello(), "run": _run, "validate": _validate}
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        op = request.get("op")
        if op == "exit":
            return
        handler = handlers.get(op)
        if handler is None:
            reply: dict[str, Any] = {"error": {"type": "ProtocolError", "message": f"op {op!r}"}}
        else:
            reply = handler(request)
        _redirect_output(idle_log)
        replies.send(reply)


def preload() -> None:
    """Import what a host needs before GMAT bootstraps (gmat-run, pandas, pyarrow): what the
    fork server does once so that the hosts it forks start without it."""
    import importlib.metadata  # noqa: F401 - the fingerprint's version look-ups
    import platform  # noqa: F401
    import socket  # noqa: F401

    import gmat_run  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    import gmat_sweep.convergence
    import gmat_sweep.outputs
    import gmat_sweep.retention
    import gmat_sweep.spec  # noqa: F401


def serve_forked(request_fd: int, reply_fd: int) -> None:
    """Be a host on these pipe ends, in a process the fork server just forked."""
    faulthandler.enable()
    threading.Thread(target=_watch_requests, args=(request_fd,), daemon=True).start()
    requests = Connection(request_fd, readable=True, writable=False)
    replies = Connection(reply_fd, readable=False, writable=True)
    serve(requests, replies)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    request_fd, reply_fd = int(args[0]), int(args[1])
    faulthandler.enable()
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    requests = Connection(request_fd, readable=True, writable=False)
    replies = Connection(reply_fd, readable=False, writable=True)
    serve(requests, replies)


if __name__ == "__main__":
    main()
