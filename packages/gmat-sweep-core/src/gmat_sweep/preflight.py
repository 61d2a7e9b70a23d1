"""Checks before a sweep's first run: settings, the out directory, the script in GMAT.

:class:`GmatCheck` loads the script in a GMAT host on the driver's machine and applies
representative overrides without running. Its host starts bootstrapping GMAT as soon as
the check is made, so the orchestrator starts the pool meanwhile; when the pool runs its
GMAT hosts in this process, the warm host is then handed to it (:func:`GmatCheck.finish`
with ``donate=True``) and serves runs instead of being thrown away.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gmat_sweep import hosts
from gmat_sweep.errors import (
    GmatUnavailableError,
    OutputDirError,
    ParameterError,
    ScriptError,
    SweepConfigError,
)

if TYPE_CHECKING:
    from gmat_sweep.designs import Design

__all__ = [
    "GmatCheck",
    "canonical_sha256",
    "check_out_dir",
    "check_retries",
    "check_timeout",
]

_VALIDATION_SAMPLE = 16
_VALIDATION_TIMEOUT_S = 600.0


def canonical_sha256(text: str) -> str:
    """Hash of a script's content with line endings normalised to LF."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def check_timeout(timeout: float | None) -> float | None:
    """``timeout`` as a float, or None. Raises SweepConfigError unless positive or None."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise SweepConfigError(
            f"timeout must be a positive number of seconds or None, got {timeout!r}"
        )
    return float(timeout)


def check_retries(max_retries: int) -> int:
    """``max_retries`` itself. Raises SweepConfigError unless an integer >= 0."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise SweepConfigError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    return max_retries


def check_out_dir(out: Path) -> None:
    """Create ``out`` if needed and prove it writable (an existing sweep there is the
    caller's check, made before anything starts).

    Raises:
        OutputDirError: not a directory, or not writable.
    """
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"out is not a directory: {out}. Choose a directory path.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputDirError(
            f"cannot write to the out directory {out}: {exc.strerror or exc}. "
            "Choose a directory you can write to."
        ) from exc


class GmatCheck:
    """The script loaded in GMAT here, every swept field set to representative values.

    Creating it starts a GMAT host from a background thread and returns at once (the
    driver opens the pool meanwhile: a Dask cluster starts while the host is forked and
    GMAT bootstraps); :meth:`finish` waits for it and checks; :meth:`close` stops the
    host if it was not donated.
    """

    def __init__(self, script_sha256: str) -> None:
        self.key = hosts.host_key(script_sha256)
        self._host: hosts.GmatHost | None = None
        self._start_error: BaseException | None = None
        self._starting = threading.Thread(target=self._start, daemon=True, name="gmat-sweep-check")
        self._starting.start()

    def _start(self) -> None:
        try:
            self._host = hosts.GmatHost(self.key)
        except BaseException as exc:  # raised in finish(), in the driver's thread
            self._start_error = exc

    def _started(self) -> hosts.GmatHost | None:
        self._starting.join()
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            raise error
        return self._host

    def finish(self, script: Path, design: Design, *, donate: bool) -> str:
        """Check ``design``'s overrides on ``script``; return GMAT's version.

        With ``donate``, the host (warm, script loaded once) joins this process's spare
        hosts for the pool's first run instead of being closed.

        Raises:
            GmatUnavailableError: GMAT cannot start on this machine.
            ScriptError: GMAT cannot load the script (its log tail is quoted).
            ParameterError: a swept field does not exist or refuses a value.
        """
        host = self._started()
        assert host is not None, "GmatCheck.finish() called twice"
        try:
            host.ready()
            if host.start_error is not None:
                raise GmatUnavailableError(
                    "cannot check the sweep before starting it: GMAT could not be started "
                    f"on this machine ({host.start_error['message']}). Set GMAT_ROOT to your "
                    "GMAT install, or pass validate=False (CLI: --no-validate) if only the "
                    "workers have GMAT."
                )
            request = {
                "op": "validate",
                "script": str(script),
                "override_sets": _validation_sets(design),
            }
            reply = host.call(request, timeout=_VALIDATION_TIMEOUT_S)
        except (TimeoutError, hosts.HostDied) as exc:
            raise ScriptError(
                f"GMAT did not finish loading {script.name} while checking the sweep "
                f"({type(exc).__name__}); run the script once in GMAT to see why."
            ) from exc
        finally:
            if self._host is not None and not donate:
                self.close()
        _raise_for(reply, script)
        if donate:
            self._host = None
            hosts.donate(host)
        return host.fingerprint.get("gmat", "unknown")

    def close(self) -> None:
        """Stop the host unless it was donated. Idempotent."""
        self._starting.join()
        host, self._host = self._host, None
        if host is not None:
            host.close()


def _raise_for(reply: Mapping[str, Any], script: Path) -> None:
    if reply.get("load_error"):
        err = reply["load_error"]
        tail = err.get("log_tail", "").strip()
        log = f"\nGMAT's log:\n{tail}" if tail else ""
        raise ScriptError(
            f"GMAT cannot load {script}: {err['message']}. Fix the script (open it "
            f"in GMAT to see the line) and start the sweep again.{log}"
        )
    if reply["field_errors"]:
        lines = [f"  - {e['path']} = {e['value']}: {e['message']}" for e in reply["field_errors"]]
        raise ParameterError(
            "the sweep sets fields the script cannot take:\n"
            + "\n".join(lines)
            + "\nFix the parameter names or values; nothing was run."
        )


def _validation_sets(design: Design) -> list[dict[str, Any]]:
    """Override sets that exercise every parameter with representative values."""
    sets: list[dict[str, Any]] = []
    values = getattr(design, "values", None)
    if design.kind == "grid" and isinstance(values, Mapping):
        for name, options in values.items():
            sets.extend({name: v} for v in options)
    for _run_id, overrides, _seed in design.iter_runs(0, min(len(design), _VALIDATION_SAMPLE)):
        sets.append(dict(overrides))
    return sets
