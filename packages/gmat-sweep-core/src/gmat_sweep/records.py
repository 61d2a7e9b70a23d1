"""The shapes of ``manifest.jsonl``'s lines: every record is built and read here.

:mod:`gmat_sweep.manifest` writes and reads the file (group commit, torn ends, the
compact per-run state) and adds the ``commit`` and ``compact`` lines of its own
protocol; this module owns what the other lines hold, so no caller hand-assembles a
record:

- :func:`header_record`: line 1, what the sweep is (script, design, settings, versions);
- :func:`session_record`: a ``run``/``resume``/``extend`` started, on which backend;
- :func:`extend_record`: the run count grew;
- :func:`run_record`: one finished attempt of one run;
- :class:`Settings`: how the sweep runs, as the header records it and resume reads it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from gmat_sweep.retention import Retention

if TYPE_CHECKING:
    from gmat_sweep.spec import RunOutcome, RunSpec

__all__ = [
    "Settings",
    "extend_record",
    "header_record",
    "installed_versions",
    "library_versions",
    "run_record",
    "session_record",
    "utcnow",
]


def utcnow() -> str:
    """Now, as the manifest writes times (ISO-8601 UTC, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Settings:
    """How a sweep runs: recorded in its header, so resume and extend run it the same.

    Attributes:
        timeout: Per-run limit in seconds, or None.
        max_retries: Resubmissions of a lost run.
        keep_gmat_files: Keep each run's GMAT files in ``out/runs/<run_id>/``.
        retention: What of each run's outputs is kept.
        accept_unconverged: Count a run whose Target/Optimize did not converge as ok
            (False: it is ``unconverged``; see :mod:`gmat_sweep.convergence`).
    """

    timeout: float | None = None
    max_retries: int = 2
    keep_gmat_files: bool = False
    retention: Retention = field(default_factory=Retention)
    accept_unconverged: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "keep_gmat_files": self.keep_gmat_files,
            "retention": self.retention.to_json(),
            "accept_unconverged": self.accept_unconverged,
        }

    @classmethod
    def from_header(cls, header: Mapping[str, Any]) -> Settings:
        """The settings a header recorded (defaults for what an older header lacks)."""
        data = header.get("settings") or {}
        return cls(
            timeout=data.get("timeout"),
            max_retries=int(data.get("max_retries", 2)),
            keep_gmat_files=bool(data.get("keep_gmat_files", False)),
            retention=Retention.from_json(data.get("retention")),
            accept_unconverged=bool(data.get("accept_unconverged", False)),
        )


def library_versions(gmat_version: str) -> dict[str, str]:
    """Versions of everything the sweep's values or outputs can depend on."""
    return dict(sorted({**installed_versions(), "gmat": gmat_version}.items()))


_versions_lock = threading.Lock()
_versions: dict[str, str] = {}


def installed_versions() -> dict[str, str]:
    """Python's and the installed libraries' versions (:func:`library_versions` less
    GMAT's), read once per process: scanning the installed distributions takes tens of
    ms, which the driver spends while GMAT starts rather than before the first run."""
    with _versions_lock:
        if not _versions:
            _versions.update(_read_installed_versions())
        return dict(_versions)


def _read_installed_versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, distributions, version

    versions = {"python": platform.python_version()}
    for name in ("gmat-run", "numpy", "scipy", "pandas", "pyarrow", "pluggy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("gmat-sweep"):
            versions[name] = dist.version
    return versions


def header_record(
    *,
    script_name: str,
    script_sha256: str,
    design: Mapping[str, Any],
    n_runs: int,
    settings: Settings,
    gmat_version: str,
) -> dict[str, Any]:
    """Line 1 of a new sweep's manifest (:meth:`Manifest.create` adds kind and schema)."""
    return {
        "sweep_id": uuid.uuid4().hex,
        "created_at": utcnow(),
        "script": {
            "name": script_name,
            "sha256": script_sha256,
            "path": f"script/{script_name}",
        },
        "design": dict(design),
        "n_runs": n_runs,
        "versions": library_versions(gmat_version),
        "settings": settings.to_json(),
    }


def session_record(
    backend: str,
    options: Mapping[str, Any],
    runs_to_do: int,
    took_over: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``run``, ``resume`` or ``extend`` started on ``backend``; ``took_over``: the
    lock holder this driver replaced (host, pid, what, since, reason), when it did."""
    record = {
        "kind": "session",
        "at": utcnow(),
        "backend": {"name": backend, "options": dict(options)},
        "runs_to_do": runs_to_do,
    }
    if took_over is not None:
        record["took_over"] = dict(took_over)
    return record


def extend_record(n_runs: int) -> dict[str, Any]:
    """The sweep now has ``n_runs`` runs."""
    return {"kind": "extend", "n_runs": n_runs, "at": utcnow()}


def run_record(
    spec: RunSpec,
    outcome: RunOutcome,
    *,
    rows: Mapping[str, int],
    warnings: list[str],
    log: str | None,
) -> dict[str, Any]:
    """The ``run`` line of one finished attempt.

    ``rows``: rows per output key it committed; ``warnings``: notes for the user;
    ``log``: where its whole log was saved (relative to the sweep directory), if it was.
    A run of a mission with Target/Optimize sequences also records ``solvers``: how each
    ended (:attr:`RunOutcome.solvers <gmat_sweep.spec.RunOutcome.solvers>`).
    """
    record: dict[str, Any] = {
        "kind": "run",
        "run_id": spec.run_id,
        "attempt": spec.attempt,
        "status": outcome.status.value,
        "overrides": dict(spec.overrides),
        "seed": spec.seed,
        "outputs": dict(rows),
        "started_at": outcome.started_at,
        "ended_at": outcome.ended_at,
        "duration_s": round(outcome.duration_s, 6),
        "fingerprint": dict(outcome.fingerprint),
        "error": outcome.error.to_json() if outcome.error else None,
        "warnings": warnings,
        "log": log,
    }
    if outcome.solvers:
        record["solvers"] = {name: dict(summary) for name, summary in outcome.solvers.items()}
    return record
