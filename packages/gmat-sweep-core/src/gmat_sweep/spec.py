"""What travels between the driver and a worker: RunSpec out, RunOutcome back.

Both are frozen, picklable dataclasses built from plain Python values and bytes, so
every backend (Dask, Ray, Slurm, MPI) can ship them without custom serialisers and
workers need no filesystem shared with the driver: the script's text travels out with
each spec, and a run's parsed outputs travel back in its outcome as Arrow IPC bytes
(:mod:`gmat_sweep.outputs`), which the driver writes into the sweep's dataset.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LOG_LIMIT_CHARS",
    "ErrorInfo",
    "RunOutcome",
    "RunSpec",
    "Status",
    "applied_digest",
    "run_dir_name",
]

#: The most of a failed run's logs that travels back to the driver (the end is kept).
LOG_LIMIT_CHARS = 1_000_000


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
    - ``unconverged``: GMAT ran the mission, but a ``Target`` (or ``Optimize``) sequence
      did not converge: GMAT then goes on with the solver's last iterate, so the
      outputs look like a good run's. Decided by the driver from the outcome's
      ``solvers`` (:mod:`gmat_sweep.convergence`) unless the sweep accepts unconverged
      runs (``accept_unconverged=True``). Not retried within a session (it would not
      converge again); ``resume`` reruns it like a failure.
    """

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    LOST = "lost"
    UNCONVERGED = "unconverged"

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
        script: The script's path in the sweep directory (``<out>/script/<name>``), for
            messages and for pools that run in the driver's filesystem.
        out_dir: Absolute path of the sweep's output directory, as the driver sees it.
            Workers touch it only with ``keep_files``.
        attempt: 1 for the first attempt, incremented on each resubmission.
        seed: The run's own seed (Monte Carlo and Latin hypercube), else None.
        timeout: Seconds the run may take before its GMAT process is killed; None
            means no limit.
        script_sha256: Canonical content hash of the script, which binds a reused
            GMAT host to one script.
        script_text: The script itself. When set, the worker runs this text (written
            once per worker into node-local scratch) rather than the file at ``script``.
        keep_files: Keep GMAT's own files of the run (its raw reports, ``GmatLog.txt``,
            ``worker.log``) in ``<out_dir>/runs/<run_id>/``; needs workers that see
            ``out_dir``. Off: they live in node-local scratch only for the run.
        retention: What of the run's outputs to keep, in the JSON form of
            :class:`gmat_sweep.retention.Retention` (empty: everything).
    """

    run_id: int
    overrides: Mapping[str, Any]
    script: str
    out_dir: str
    attempt: int = 1
    seed: int | None = None
    timeout: float | None = None
    script_sha256: str = ""
    script_text: str = ""
    keep_files: bool = False
    retention: Mapping[str, Any] = field(default_factory=dict)


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
        tables: Output key (``"report__OrbitReport"``) mapped to that output's rows as
            an Arrow IPC stream (:func:`gmat_sweep.outputs.decode_table` reads it).
            Empty unless the run ended ok.
        started_at, ended_at: ISO-8601 UTC timestamps.
        duration_s: Wall time of the attempt inside the worker.
        fingerprint: Where it ran: host name, Python, gmat-sweep-core, gmat-run and
            GMAT versions.
        error: Why it did not end ok (None when ok).
        warnings: Messages worth a user's attention that did not fail the run.
        log: GMAT's log and the worker's output of a run that did not end ok, whole
            (up to :data:`LOG_LIMIT_CHARS`); empty for ok runs.
        applied: :func:`applied_digest` of the spec the worker ran, so that the driver
            (and the backend test kit) can tell that the run got the overrides,
            retention and script the driver sent, even where the outputs would not show
            a difference. Empty on outcomes not made by the worker.
        solvers: Per ``Target``/``Optimize`` solver the run used (its GMAT resource name,
            e.g. ``"DC"``), how it ended: ``{"converged": bool, "status": str,
            "iterations": int}`` plus, when GMAT wrote goals, ``"worst_goal"``,
            ``"residual"`` and ``"tolerance"`` of the last iteration
            (:func:`gmat_sweep.convergence.solver_summary`). Empty when the mission has
            no solver, or on outcomes not made by the worker.
    """

    run_id: int
    attempt: int
    status: Status
    tables: Mapping[str, bytes] = field(default_factory=dict)
    started_at: str = ""
    ended_at: str = ""
    duration_s: float = 0.0
    fingerprint: Mapping[str, str] = field(default_factory=dict)
    error: ErrorInfo | None = None
    warnings: tuple[str, ...] = ()
    log: str = ""
    applied: str = ""
    solvers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


_text_digests: dict[str, str] = {}


def _text_digest(text: str) -> str:
    digest = _text_digests.get(text)
    if digest is None:
        if len(_text_digests) > 16:
            _text_digests.clear()
        digest = _text_digests[text] = hashlib.sha256(text.encode()).hexdigest()
    return digest


def applied_digest(spec: RunSpec) -> str:
    """A digest of what decides a run's result: its overrides, retention and script.

    The worker computes it from the spec it received and puts it in the outcome; the
    driver computes it from the spec it sent. Equal digests mean the backend delivered
    the run unchanged. Costs a few microseconds (the script's own digest is cached).
    """
    script = _text_digest(spec.script_text) if spec.script_text else spec.script_sha256
    # repr of plain values (floats print exactly) is the same in every process.
    payload = repr((sorted(spec.overrides.items()), sorted(spec.retention.items()), script))
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()
