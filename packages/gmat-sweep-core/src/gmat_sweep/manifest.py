"""``manifest.jsonl``: the durable record of a sweep.

Layout: JSON Lines, keys sorted. The first line is the header (``"kind": "header"``:
schema version, sweep id, script, design, run count, library versions, settings).
Every later line is appended by the driver alone and is one of:

- ``"kind": "run"``: one finished attempt of one run (run_id, attempt, status,
  overrides, seed, outputs relative to the sweep directory, timings, worker
  fingerprint, error);
- ``"kind": "session"``: a ``run``/``resume``/``extend`` started, with the backend
  it used;
- ``"kind": "extend"``: the run count grew to ``n_runs``.

Lines are written whole and fsync'ed before the driver moves on (the runs that
finished together in one group: one write and one fsync), so a driver killed at any
instant leaves at worst a torn final line. Reading tolerates exactly
that (and the next append cuts it off); any other unreadable line raises
:class:`~gmat_sweep.errors.ManifestCorruptError` naming the line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gmat_sweep.errors import ManifestCorruptError, ManifestExistsError, OutputDirError

if TYPE_CHECKING:
    from gmat_sweep.spec import RunOutcome, RunSpec

__all__ = [
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "Manifest",
    "RunRecord",
    "manifest_exists_error",
    "run_record",
]

MANIFEST_NAME = "manifest.jsonl"
SCHEMA_VERSION = 1


def _dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass
class RunRecord:
    """The latest attempt of one run, as much of it as the driver keeps in memory."""

    status: str
    attempts: int
    outputs: dict[str, str] = field(default_factory=dict)


class Manifest:
    """An open manifest: its header, the latest state of every run, and appends.

    Use :meth:`create` for a new sweep and :meth:`load` for an existing one.
    """

    def __init__(self, path: Path, header: dict[str, Any], *, fsync: bool = True) -> None:
        self.path = path
        self.header = header
        self.fsync = fsync
        self.runs: dict[int, RunRecord] = {}
        self.n_runs: int = int(header.get("n_runs", 0))
        self._file: IO[str] | None = None

    # -- opening ---------------------------------------------------------------

    @classmethod
    def create(
        cls, out_dir: Path, header: dict[str, Any], *, overwrite: bool = False, fsync: bool = True
    ) -> Manifest:
        """Start a new manifest in ``out_dir`` with ``header`` as its first line.

        Raises:
            ManifestExistsError: ``out_dir`` already holds a manifest and
                ``overwrite`` is False.
            OutputDirError: ``out_dir`` cannot be created or written.
        """
        path = out_dir / MANIFEST_NAME
        if path.exists() and not overwrite:
            raise manifest_exists_error(out_dir)
        header = {**header, "kind": "header", "schema_version": SCHEMA_VERSION}
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(_dumps(header) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputDirError(
                f"cannot write the sweep's manifest in {out_dir}: {exc}. "
                "Choose an out directory you can write to."
            ) from exc
        return cls(path, header, fsync=fsync)

    @classmethod
    def load(cls, out_dir: Path, *, fsync: bool = True) -> Manifest:
        """Read the manifest in ``out_dir``: header and the latest state of each run.

        Raises:
            FileNotFoundError: there is no manifest in ``out_dir``.
            ManifestCorruptError: a line other than a torn last line is unreadable.
        """
        path = out_dir / MANIFEST_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"no sweep in {out_dir}: {MANIFEST_NAME} not found. Check the path; "
                "a sweep directory holds manifest.jsonl, script/ and runs/."
            )
        manifest: Manifest | None = None
        for record in iter_records(path):
            if manifest is None:
                if record.get("kind") != "header":
                    raise ManifestCorruptError(
                        f"{path}: line 1 is not a gmat-sweep manifest header",
                        path=str(path),
                        line_number=1,
                    )
                _check_schema(record, path)
                manifest = cls(path, record, fsync=fsync)
            else:
                manifest._absorb(record)
        if manifest is None:
            raise ManifestCorruptError(
                f"{path} is empty; it has no header line", path=str(path), line_number=1
            )
        return manifest

    def _absorb(self, record: Mapping[str, Any]) -> None:
        kind = record.get("kind")
        if kind == "run":
            run_id = int(record["run_id"])
            previous = self.runs.get(run_id)
            self.runs[run_id] = RunRecord(
                status=str(record["status"]),
                attempts=(previous.attempts if previous else 0) + 1,
                outputs=dict(record.get("outputs") or {}),
            )
        elif kind == "extend":
            self.n_runs = int(record["n_runs"])

    # -- writing ---------------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one line and make it durable (fsync) before returning."""
        self.append_many([record])

    def append_many(self, records: list[Mapping[str, Any]]) -> None:
        """Append one line per record with one write and one fsync; durable on return."""
        if not records:
            return
        text = "".join(_dumps(record) + "\n" for record in records)
        if self._file is None:
            _cut_torn_tail(self.path)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._file.write(text)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        for record in records:
            self._absorb(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- queries ---------------------------------------------------------------

    def records(self) -> Iterator[dict[str, Any]]:
        """Every line after the header, in file order (re-read from disk)."""
        it = iter_records(self.path)
        next(it, None)
        yield from it

    def run_entries(self) -> Iterator[dict[str, Any]]:
        """Every ``run`` line, in file order."""
        return (r for r in self.records() if r.get("kind") == "run")

    def latest_entries(self) -> dict[int, dict[str, Any]]:
        """The last ``run`` line of every run that has one."""
        latest: dict[int, dict[str, Any]] = {}
        for record in self.run_entries():
            latest[int(record["run_id"])] = record
        return latest

    def pending(self) -> list[int]:
        """Run ids with no attempt yet or whose latest attempt is not ok, ascending."""
        return [
            run_id
            for run_id in range(self.n_runs)
            if (rec := self.runs.get(run_id)) is None or rec.status != "ok"
        ]


def run_record(spec: RunSpec, outcome: RunOutcome, warnings: list[str]) -> dict[str, Any]:
    """The ``run`` line of one finished attempt (``warnings``: notes for the user)."""
    return {
        "kind": "run",
        "run_id": spec.run_id,
        "attempt": spec.attempt,
        "status": outcome.status.value,
        "overrides": dict(spec.overrides),
        "seed": spec.seed,
        "outputs": dict(outcome.outputs),
        "started_at": outcome.started_at,
        "ended_at": outcome.ended_at,
        "duration_s": round(outcome.duration_s, 6),
        "fingerprint": dict(outcome.fingerprint),
        "error": outcome.error.to_json() if outcome.error else None,
        "warnings": warnings,
    }


def _check_schema(header: Mapping[str, Any], path: Path) -> None:
    version = header.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ManifestCorruptError(
            f"{path} has manifest schema_version {version!r}; this gmat-sweep reads up to "
            f"{SCHEMA_VERSION}. Upgrade gmat-sweep-core to read it.",
            path=str(path),
            line_number=1,
        )


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Parse ``path`` line by line; tolerate a torn final line only.

    Raises:
        ManifestCorruptError: a line that is not the last (or the last one, when it
            ends with a newline and so was written whole) is not a JSON object.
    """
    with open(path, encoding="utf-8", errors="replace") as fh:
        previous: tuple[int, str] | None = None
        for number, line in enumerate(fh, start=1):
            if previous is not None:
                yield _parse(path, *previous, last=False)
            previous = (number, line)
        if previous is not None:
            number, line = previous
            if line.endswith("\n"):
                yield _parse(path, number, line, last=False)
            else:
                try:
                    yield _parse(path, number, line, last=True)
                except _TornLine:
                    return


def manifest_exists_error(out_dir: Path) -> ManifestExistsError:
    """The refusal to start a new sweep over an existing one, with the ways out."""
    return ManifestExistsError(
        f"{out_dir} already holds a sweep ({MANIFEST_NAME}). Resume it with "
        f"Sweep.from_manifest({str(out_dir)!r}).resume() (CLI: gmat-sweep resume "
        f"{out_dir}), pick another out directory, or pass overwrite=True "
        "(CLI: --overwrite) to discard it."
    )


class _TornLine(Exception):
    pass


def _parse(path: Path, number: int, line: str, *, last: bool) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        if last:
            raise _TornLine from exc
        raise ManifestCorruptError(
            f"{path}, line {number}, cannot be read ({exc.msg}). The line was damaged "
            "after it was written; restore the file from a backup, or delete that line "
            "to resume (its run will be rerun).",
            path=str(path),
            line_number=number,
        ) from exc
    if not isinstance(value, dict):
        raise ManifestCorruptError(
            f"{path}, line {number}, is not a JSON object", path=str(path), line_number=number
        )
    return value


def _cut_torn_tail(path: Path) -> None:
    """Remove an unterminated final line (left by a killed driver) before appending."""
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # Walk back to the last newline.
        block = 4096
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                fh.truncate(start + idx + 1)
                return
            pos = start
        fh.truncate(0)
