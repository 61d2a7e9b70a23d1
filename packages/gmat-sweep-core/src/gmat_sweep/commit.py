"""Group commit: finished runs into the dataset and the manifest, a group at a time.

:class:`GroupCommitter` is what the driver does with every run that ends. It decodes
the run's outputs (Arrow IPC, :mod:`gmat_sweep.outputs`) into dataset rows and buffers
them with the run's manifest line. A group is committed when it is due: when its
oldest run has waited :data:`COMMIT_WINDOW_S`, when it holds :data:`COMMIT_MAX_RUNS`
runs or :data:`COMMIT_MAX_BYTES` of rows, and at the end of a session. Committing a
group writes, in this order: the whole logs of its runs that did not end ok
(``logs/``), one part file per output (durable), then the run lines and the commit line
with one write and one fsync (:meth:`~gmat_sweep.manifest.Manifest.commit`).

Guarantee: a driver killed at any instant loses at most the runs of the group not yet
committed (they are pending again on resume) and never leaves rows that count twice. A
driver on a slow shared filesystem pays one manifest fsync and one part file per output
per group, not per run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gmat_sweep.errors import GmatSweepError, OutputDirError, SweepConfigError
from gmat_sweep.manifest import Manifest
from gmat_sweep.records import run_record
from gmat_sweep.spec import ErrorInfo, RunOutcome, RunSpec, Status, run_dir_name

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["COMMIT_MAX_BYTES", "COMMIT_MAX_RUNS", "COMMIT_WINDOW_S", "GroupCommitter"]

#: A finished run waits at most about this long before its group is committed (seconds);
#: ``GMAT_SWEEP_COMMIT_WINDOW_S`` in the driver's environment overrides it.
COMMIT_WINDOW_S = 2.0
#: A group is committed once it holds this many runs...
COMMIT_MAX_RUNS = 10_000
#: ...or this many bytes of decoded rows.
COMMIT_MAX_BYTES = 64 * 1024 * 1024
LOGS_DIR = "logs"

Notes = Callable[[RunSpec, RunOutcome], list[str]]


class GroupCommitter:
    """Buffers finished runs and commits them in groups (see the module docstring).

    Args:
        out_dir: The sweep directory.
        manifest: Its open manifest (the committer appends to it).
        notes: Extra notes for a run's manifest line (e.g. a worker software mismatch).
        window_s, max_runs, max_bytes: When a group is due (``window_s`` None: the
            environment's ``GMAT_SWEEP_COMMIT_WINDOW_S``, else :data:`COMMIT_WINDOW_S`).
        before_write: Called before each group is written; what it raises stops the
            commit with nothing written (the sweep lock's check).
    """

    def __init__(
        self,
        out_dir: Path,
        manifest: Manifest,
        *,
        notes: Notes | None = None,
        window_s: float | None = None,
        max_runs: int = COMMIT_MAX_RUNS,
        max_bytes: int = COMMIT_MAX_BYTES,
        before_write: Callable[[], None] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.before_write = before_write
        self.manifest = manifest
        self.notes = notes
        self.window_s = _window_s() if window_s is None else window_s
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        # The buffered runs; their outputs stay encoded (compact) until the group commits.
        self._runs: list[tuple[RunSpec, RunOutcome, list[str]]] = []
        self._bytes = 0
        self._oldest: float | None = None

    def add(self, finished: list[tuple[RunSpec, RunOutcome]]) -> None:
        """Buffer these finished attempts; commit the group if it is now due.

        Raises:
            OutputDirError: writing failed (disk full, out not writable); what was
                committed before stays committed, and this group's runs run again on
                resume.
            GmatSweepError: a channel changes type between runs of the group.
        """
        for spec, outcome in finished:
            if self._oldest is None:
                self._oldest = time.monotonic()
            self._buffer(spec, outcome)
            if len(self._runs) >= self.max_runs or self._bytes >= self.max_bytes:
                self.flush()
        if self._due():
            self.flush()

    def due_in(self) -> float | None:
        """Seconds until the buffered group is due (None: nothing buffered)."""
        if self._oldest is None:
            return None
        return max(0.0, self._oldest + self.window_s - time.monotonic())

    def tick(self) -> float | None:
        """Commit the group if its window has passed; seconds until the next is due."""
        if self._due():
            self.flush()
        return self.due_in()

    def _due(self) -> bool:
        if not self._runs:
            return False
        waited = self._oldest is not None and time.monotonic() - self._oldest >= self.window_s
        return waited or len(self._runs) >= self.max_runs or self._bytes >= self.max_bytes

    def _buffer(self, spec: RunSpec, outcome: RunOutcome) -> None:
        notes = list(outcome.warnings) + (self.notes(spec, outcome) if self.notes else [])
        self._runs.append((spec, outcome, notes))
        self._bytes += sum(len(data) for data in outcome.tables.values())

    def flush(self) -> None:
        """Commit everything buffered now (see the module docstring for the order).

        Raises:
            OutputDirError, GmatSweepError: as :meth:`add`.
        """
        if not self._runs:
            return
        if self.before_write is not None:
            self.before_write()  # e.g. the sweep lock's check: raises, and nothing is written
        import pyarrow as pa

        from gmat_sweep.dataset import COMPACT_AT, compact, write_part

        # The group leaves the buffer before anything is written: a flush interrupted
        # after its manifest write (Ctrl-C lands anywhere) must not be committed a second
        # time by the flush that follows the interruption. Interrupted before that write,
        # its runs are simply not committed and run again on resume.
        group, self._runs, self._bytes, self._oldest = self._runs, [], 0, None
        try:
            tables: dict[str, tuple[list[pa.Table], list[int], list[int]]] = {}
            assembled: dict[str, list[pa.Table]] = {}
            records: list[dict[str, Any]] = []
            for index, (spec, outcome, notes) in enumerate(group):
                outcome, rows = _decode(spec, outcome, tables)
                log = self._save_log(spec, outcome)
                records.append(run_record(spec, outcome, rows=rows, warnings=notes, log=log))
                if index % _ASSEMBLE_EVERY == _ASSEMBLE_EVERY - 1:  # bound the small tables held
                    _assemble_into(assembled, tables)
            _assemble_into(assembled, tables)
            parts = {
                key: write_part(
                    self.out_dir, key, pa.concat_tables(chunks, promote_options="permissive")
                )
                for key, chunks in assembled.items()
            }
            self.manifest.commit(records, parts)
        except OSError as exc:
            raise self._write_error(exc, len(group)) from exc
        try:
            for key in parts:
                if len(self.manifest.parts.get(key, ())) >= COMPACT_AT:
                    compact(self.out_dir, self.manifest, key, final=False)
        except OSError as exc:  # the group is committed; a failed merge loses nothing
            raise self._write_error(exc, 0) from exc

    def close(self) -> None:
        """Commit what is buffered and merge each output's small parts (end of a session).

        Raises:
            OutputDirError, GmatSweepError: as :meth:`add`; a failed merge loses nothing
                (the parts it would have merged stay live).
        """
        from gmat_sweep.dataset import compact

        self.flush()
        try:
            for key in list(self.manifest.parts):
                compact(self.out_dir, self.manifest, key, final=True)
        except OSError as exc:
            raise self._write_error(exc, 0) from exc

    def _write_error(self, exc: OSError, pending: int) -> OutputDirError:
        return OutputDirError(
            f"cannot write the sweep's outputs in {self.out_dir}: {exc.strerror or exc}. "
            "Everything committed before is safe"
            + (f"; the {pending} run(s) not yet committed will run again" if pending else "")
            + ". Free space (or fix the directory), then resume: "
            f"gmat-sweep resume {self.out_dir}"
        )

    def _save_log(self, spec: RunSpec, outcome: RunOutcome) -> str | None:
        """Write a run's whole log to ``logs/`` (runs that did not end ok); its path."""
        if not outcome.log:
            return None
        relative = f"{LOGS_DIR}/{run_dir_name(spec.run_id)}-attempt{spec.attempt}.log"
        path = self.out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(outcome.log, encoding="utf-8")
        return relative


_ASSEMBLE_EVERY = 2048


def _assemble_into(
    assembled: dict[str, list[pa.Table]],
    tables: dict[str, tuple[list[pa.Table], list[int], list[int]]],
) -> None:
    """Turn the per-run tables gathered so far into one table per output (and forget them)."""
    import pyarrow as pa

    from gmat_sweep.dataset import assemble

    for key, buffered in tables.items():
        if not buffered[0]:
            continue
        try:
            assembled.setdefault(key, []).append(assemble(*buffered))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            runs = buffered[1]
            raise GmatSweepError(
                f"the {key} outputs of runs {runs[0]}..{runs[-1]} cannot share one table "
                f"({exc}): a channel changes type between runs (text in some, numbers in "
                "others). Runs committed before are safe; make the channel's type the same "
                "in every run (e.g. report a number, not a string), then resume."
            ) from exc
    tables.clear()


def _decode(
    spec: RunSpec,
    outcome: RunOutcome,
    tables: dict[str, tuple[list[pa.Table], list[int], list[int]]],
) -> tuple[RunOutcome, dict[str, int]]:
    """Add the run's decoded outputs to ``tables``; the outcome and its rows per output.

    Outputs that cannot be decoded (a pool that mangled the bytes) fail that run alone.
    """
    from gmat_sweep.outputs import decode_table

    try:
        decoded = [(key, decode_table(data)) for key, data in sorted(outcome.tables.items())]
    except Exception as exc:
        message = f"the run's outputs came back unreadable ({exc}); a bug in the backend"
        return _failed(outcome, ErrorInfo("BackendError", message)), {}
    for key, table in decoded:
        buffered, run_ids, attempts = tables.setdefault(key, ([], [], []))
        buffered.append(table)
        run_ids.append(spec.run_id)
        attempts.append(spec.attempt)
    return outcome, {key: table.num_rows for key, table in decoded}


def _window_s() -> float:
    """The commit window from ``GMAT_SWEEP_COMMIT_WINDOW_S``, else the default.

    Raises:
        SweepConfigError: the variable is set but not a number >= 0.
    """
    raw = os.environ.get("GMAT_SWEEP_COMMIT_WINDOW_S", "").strip()
    if not raw:
        return COMMIT_WINDOW_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise SweepConfigError(
            f"GMAT_SWEEP_COMMIT_WINDOW_S={raw!r} is not a number of seconds >= 0; unset it "
            f"for the default of {COMMIT_WINDOW_S:g} s"
        )
    return value


def _failed(outcome: RunOutcome, error: ErrorInfo) -> RunOutcome:
    from dataclasses import replace

    return replace(outcome, status=Status.FAILED, tables={}, error=error)
