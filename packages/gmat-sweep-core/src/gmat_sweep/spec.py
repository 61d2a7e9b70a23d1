"""What travels between the driver and a worker: RunSpec out, RunOutcome back.

Both are small, frozen, picklable dataclasses built from plain Python values, so
every backend (Dask, Ray, Slurm, MPI) can ship them without custom serialisers.
Neither ever carries a DataFrame: a run's outputs stay on disk in the sweep's
``out`` directory and only their paths (relative to ``out``) travel back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ErrorInfo", "RunOutcome", "RunSpec", "Status", "run_dir_name"]


class Status(str, enum.Enum):
    """How one attempt of one run ended.

    - ``ok``: GMAT ran the mission and every output was written.
    - ``failed``: GMAT (or gmat-run) reported an error: the script, an override or
      the mission itself. Never retried automatically: it would fail again.
    - ``timeout``: the run exceeded the sweep's per-run ``timeout``; its GMAT process
      group was killed.
    - ``crashed``: the GMAT host process died (segfault, abort, OOM kill) while
      serving this run. Only this run is affected.
    - ``lost``: the backend could not tell what happened (worker lost, pod evicted,
      node died). Resubmitted up to ``max_retries`` times.
    """

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value


def run_dir_name(run_id: int) -> str:
    """Directory name of a run under ``<out>/runs/`` (zero-padded, sorts naturally)."""
    return f"{run_id:06d}"


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep, as handed to :func:`gmat_sweep.worker.execute_run`.

    Attributes:
        run_id: Position of the run in the design, from 0. Stable across resume,
            extend and backends.
        overrides: Dotted GMAT field paths (``"Sat.SMA"``, ``"TOF.Value"``) mapped to
            plain Python values (float, int, str, bool, lists of those).
        script: Absolute path of the script to run, as seen by the worker.
        out_dir: Absolute path of the sweep's output directory, as seen by the worker.
        attempt: 1 for the first attempt, incremented on each resubmission.
        seed: The run's own seed (Monte Carlo and Latin hypercube), else None.
        timeout: Seconds the run may take before its GMAT process is killed; None
            means no limit.
        script_sha256: Canonical content hash of the script, which binds a reused
            GMAT host to one script.
    """

    run_id: int
    overrides: Mapping[str, Any]
    script: str
    out_dir: str
    attempt: int = 1
    seed: int | None = None
    timeout: float | None = None
    script_sha256: str = ""


@dataclass(frozen=True)
class ErrorInfo:
    """Why a run did not end ok: exception type, message, and GMAT's log tail."""

    type: str
    message: str
    log_tail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message, "log_tail": self.log_tail}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErrorInfo:
        return cls(
            type=str(data.get("type", "")),
            message=str(data.get("message", "")),
            log_tail=str(data.get("log_tail", "")),
        )


@dataclass(frozen=True)
class RunOutcome:
    """What one attempt of one run produced.

    Attributes:
        run_id, attempt: As in the RunSpec.
        status: How the attempt ended.
        outputs: Output name (``"report__Log"``) mapped to the Parquet file's path
            relative to the sweep's ``out`` directory (forward slashes).
        started_at, ended_at: ISO-8601 UTC timestamps.
        duration_s: Wall time of the attempt inside the worker.
        fingerprint: Where it ran: host name, Python, gmat-sweep-core, gmat-run and
            GMAT versions.
        error: Why it did not end ok (None when ok).
        warnings: Messages worth a user's attention that did not fail the run.
    """

    run_id: int
    attempt: int
    status: Status
    outputs: Mapping[str, str] = field(default_factory=dict)
    started_at: str = ""
    ended_at: str = ""
    duration_s: float = 0.0
    fingerprint: Mapping[str, str] = field(default_factory=dict)
    error: ErrorInfo | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is Status.OK
