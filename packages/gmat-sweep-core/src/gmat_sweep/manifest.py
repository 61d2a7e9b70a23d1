"""``manifest.jsonl``: the durable record of a sweep; the only code that writes or reads it.

What the header, session, extend and run lines hold is :mod:`gmat_sweep.records`'s
(no caller assembles a record by hand); the commit and compact lines, which carry the
group-commit protocol, are this module's own.

Layout: JSON Lines, keys sorted. The first line is the header (``"kind": "header"``:
schema version, sweep id, script, design, run count, library versions, settings).
Every later line is appended by the driver alone and is one of:

- ``"kind": "run"``: one finished attempt of one run (run_id, attempt, status,
  overrides, seed, the rows of each output, timings, worker fingerprint, error, and
  ``log``: where its whole log was saved when it did not end ok);
- ``"kind": "commit"``: closes the group of ``runs`` run lines just before it, lists
  their ``ids`` and ``statuses`` in line order (the group's index: opening a sweep reads
  these, not every run line), and names the dataset part file (per output) that holds
  their rows;
- ``"kind": "compact"``: part files of one output were merged into one;
- ``"kind": "session"``: a ``run``/``resume``/``extend`` started, with its backend;
- ``"kind": "extend"``: the run count grew to ``n_runs``.

Group commit (the one rule reader and writer share): a line counts only once its
newline is on disk, and run lines count only once the commit line that closes their
group does. The driver writes a group's part files durably first, then the group's run
lines and its commit line with one write and one fsync (:meth:`Manifest.commit`). A
driver killed at any instant therefore leaves at worst an unclosed group at the end of
the file: reading ignores it (its runs are pending again; its part files are orphans,
never read) and the next append cuts it off. Any other unreadable line raises
:class:`~gmat_sweep.errors.ManifestCorruptError` naming the line.

In memory, a manifest keeps per run only a status code and an attempt count (a few
bytes), plus the live part files of each output. :meth:`Manifest.load` parses the
header and the standalone and commit lines; of a run line it checks only that it is
whole (it begins ``{"attempt":`` as sorted keys put it, and ends ``}``). Run lines are
parsed, and checked against their commit line, when someone reads them
(:meth:`Manifest.records`), as a stream.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from gmat_sweep.errors import ManifestCorruptError, ManifestExistsError, OutputDirError

__all__ = [
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "STATUSES",
    "Manifest",
    "iter_records",
    "manifest_exists_error",
]

MANIFEST_NAME = "manifest.jsonl"
SCHEMA_VERSION = 2
#: Run statuses by code (code 0: the run has no committed attempt). Codes are stored
#: (commit lines name statuses; in memory and in the DataFrame they are codes): a new
#: status is appended at the end so that every existing code keeps its meaning.
STATUSES = ("", "ok", "failed", "timeout", "crashed", "lost", "unconverged")
_CODE = {name: code for code, name in enumerate(STATUSES) if name}
_RUN_KEYS = ("run_id", "attempt", "status")
#: How every run line the driver writes begins (its keys are sorted; "attempt" is first).
_RUN_PREFIX = b'{"attempt":'


def _dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)


class Manifest:
    """An open manifest: its header, the state of every run, the live part files.

    Use :meth:`create` for a new sweep and :meth:`load` for an existing one.
    """

    def __init__(self, path: Path, header: dict[str, Any], *, fsync: bool = True) -> None:
        self.path = path
        self.header = header
        self.fsync = fsync
        self.n_runs: int = int(header.get("n_runs", 0))
        self._status = bytearray()
        self._attempts = array("I")
        #: Live dataset part files per output key, in commit order (paths relative to out).
        self.parts: dict[str, list[str]] = {}
        self._committed_bytes: int | None = None  # where the committed lines end on disk
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
        manifest = cls(path, header, fsync=fsync)
        manifest._committed_bytes = path.stat().st_size
        return manifest

    @classmethod
    def load(cls, out_dir: str | os.PathLike[str], *, fsync: bool = True) -> Manifest:
        """Read the manifest in ``out_dir``: header, state of each run, live part files.

        Raises:
            FileNotFoundError: there is no manifest in ``out_dir``.
            ManifestCorruptError: a line other than an unterminated last line is
                unreadable, a line lacks what its kind needs, or line 1 is no header.
        """
        out_dir = Path(out_dir)
        path = out_dir / MANIFEST_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"no sweep in {out_dir}: {MANIFEST_NAME} not found. Check the path; "
                "a sweep directory holds manifest.jsonl, script/ and data/."
            )
        manifest: Manifest | None = None
        committed_bytes = 0
        for _number, record, end in _committed(path, parse_runs=False):
            committed_bytes = end
            if manifest is None:
                manifest = cls(path, record, fsync=fsync)
            else:
                manifest._absorb(record)
        if manifest is None:
            raise ManifestCorruptError(
                f"{path} has no complete header line (the file is empty or was cut short). "
                "It is not a usable sweep; start the sweep again with overwrite=True.",
                path=str(path),
                line_number=1,
            )
        manifest._committed_bytes = committed_bytes
        return manifest

    def _absorb(self, record: Mapping[str, Any]) -> None:
        kind = record.get("kind")
        if kind == "commit":
            ids, statuses = record["ids"], record["statuses"]
            if ids:
                self._grow(max(ids) + 1)
            lost = _CODE["lost"]
            for run_id, status in zip(ids, statuses, strict=True):
                self._status[run_id] = _CODE.get(status, lost)
                self._attempts[run_id] += 1
            for key, part in (record.get("parts") or {}).items():
                self.parts.setdefault(key, []).append(part)
        elif kind == "compact":
            replaced = set(record["replaces"])
            live = [p for p in self.parts.get(record["key"], []) if p not in replaced]
            self.parts[record["key"]] = [*live, record["part"]]
        elif kind == "extend":
            self.n_runs = int(record["n_runs"])

    def _grow(self, size: int) -> None:
        if len(self._status) < size:
            extra = size - len(self._status)
            self._status.extend(bytes(extra))
            self._attempts.frombytes(bytes(self._attempts.itemsize * extra))

    # -- writing ---------------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one standalone line (session, extend, compact); durable on return."""
        if record.get("kind") in ("run", "commit", "header"):
            raise ValueError("run lines are written with commit(); the header with create()")
        self._write([record])

    def commit(self, runs: Sequence[Mapping[str, Any]], parts: Mapping[str, str]) -> None:
        """Append a group of run lines and the commit line that closes it; durable on return.

        ``parts`` names, per output key, the part file (relative to the sweep directory)
        that holds the rows of these runs; it must already be durable on disk.
        """
        if not runs:
            return
        closing = {
            "kind": "commit",
            "runs": len(runs),
            "ids": [int(r["run_id"]) for r in runs],
            "statuses": [str(r["status"]) for r in runs],
            "parts": dict(parts),
        }
        self._write([*runs, closing])

    def compacted(self, key: str, part: str, replaces: Sequence[str]) -> None:
        """Record that ``part`` (durable already) now holds the rows of ``replaces``."""
        self.append({"kind": "compact", "key": key, "part": part, "replaces": list(replaces)})

    def _write(self, records: list[Mapping[str, Any]]) -> None:
        text = "".join(_dumps(record) + "\n" for record in records)
        if self._file is None:
            _cut_after(self.path, self._committed_bytes)
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
        self._committed_bytes = self.path.stat().st_size if self.path.exists() else None

    # -- queries ---------------------------------------------------------------

    def status_of(self, run_id: int) -> str | None:
        """The status of the run's latest committed attempt (None: none yet)."""
        code = self._status[run_id] if 0 <= run_id < len(self._status) else 0
        return STATUSES[code] or None

    def attempts_of(self, run_id: int) -> int:
        """How many attempts of the run are committed."""
        return self._attempts[run_id] if 0 <= run_id < len(self._attempts) else 0

    def status_counts(self) -> dict[str, int]:
        """Runs per status of their latest committed attempt (runs not yet run omitted)."""
        counts = {name: self._status.count(code) for name, code in _CODE.items()}
        return {name: n for name, n in counts.items() if n}

    def status_codes(self) -> bytes:
        """One byte per run id below ``n_runs``: its index in :data:`STATUSES`."""
        codes = bytes(self._status[: self.n_runs])
        return codes + bytes(self.n_runs - len(codes))

    def attempt_counts(self) -> array[int]:
        """Committed attempts per run id below ``n_runs``."""
        counts = self._attempts[: self.n_runs]
        counts.extend([0] * (self.n_runs - len(counts)))
        return counts

    def pending(self) -> array[int]:
        """Run ids with no committed attempt or whose latest attempt is not ok, ascending
        (a compact array: 4 bytes a run)."""
        import re

        todo = array("I")
        not_ok = re.compile(b"[^" + re.escape(bytes([_CODE["ok"]])) + b"]+")
        for stretch in not_ok.finditer(self.status_codes()):
            todo.extend(range(stretch.start(), stretch.end()))
        return todo

    def records(self) -> Iterator[dict[str, Any]]:
        """Every committed line after the header, in file order (re-read from disk)."""
        it = _committed(self.path, parse_runs=True)
        next(it, None)
        for _number, record, _end in it:
            yield record

    def run_entries(self) -> Iterator[dict[str, Any]]:
        """Every committed ``run`` line, in file order."""
        return (r for r in self.records() if r.get("kind") == "run")

    def latest_entries(self) -> dict[int, dict[str, Any]]:
        """The last committed ``run`` line of every run that has one."""
        latest: dict[int, dict[str, Any]] = {}
        for record in self.run_entries():
            latest[int(record["run_id"])] = record
        return latest


def manifest_exists_error(out_dir: Path) -> ManifestExistsError:
    """The refusal to start a new sweep over an existing one, with the ways out."""
    return ManifestExistsError(
        f"{out_dir} already holds a sweep ({MANIFEST_NAME}). Resume it with "
        f"Sweep.from_manifest({str(out_dir)!r}).resume() (CLI: gmat-sweep resume "
        f"{out_dir}), pick another out directory, or pass overwrite=True "
        "(CLI: --overwrite) to discard it."
    )


# -- reading -------------------------------------------------------------------------

_REQUIRED = {
    "run": _RUN_KEYS,
    "commit": ("runs", "ids", "statuses"),
    "compact": ("key", "part", "replaces"),
    "extend": ("n_runs",),
}


def iter_records(
    path: Path, *, parse_runs: bool = True
) -> Iterator[tuple[int, dict[str, Any] | None, int]]:
    """Every line that ends with its newline: (line number, record, byte offset after it).

    An unterminated last line is not a record (the driver died writing it) and is not
    yielded, whatever it holds. Without ``parse_runs``, a run line as the driver writes
    it is checked to be whole but not parsed: its record is None.

    Raises:
        ManifestCorruptError: a terminated line is not a JSON object (or a run line is
            not whole), line 1 is not a gmat-sweep header of a schema this version
            reads, or a line lacks a key its kind needs.
    """
    offset = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                return
            offset += len(raw)
            if not parse_runs and number > 1 and raw.startswith(_RUN_PREFIX):
                if not raw.endswith(b"}\n"):
                    raise _corrupt(path, number, "is a run line cut short")
                yield number, None, offset
                continue
            record = _parse(path, number, raw)
            if number == 1:
                _check_header(record, path)
            elif record.get("kind") == "header":
                raise _corrupt(path, number, "is a second header line")
            missing = [k for k in _REQUIRED.get(str(record.get("kind")), ()) if k not in record]
            if missing:
                raise _corrupt(path, number, f"is a {record['kind']} line without {missing}")
            yield number, record, offset


def _committed(path: Path, *, parse_runs: bool) -> Iterator[tuple[int, dict[str, Any], int]]:
    """The records that count: standalone lines, and run lines once their group commits.

    The offset yielded is where the committed part of the file ends so far. Without
    ``parse_runs`` run lines are not yielded (their commit line says what they hold).

    Raises:
        ManifestCorruptError: as :func:`iter_records`, or a commit line disagrees with
            the group it closes (its size, or which runs it holds).
    """
    group: list[dict[str, Any] | None] = []
    for number, record, offset in iter_records(path, parse_runs=parse_runs):
        if record is None or record.get("kind") == "run":
            group.append(record)
            continue
        if record.get("kind") == "commit":
            _check_group(path, number, record, group)
            for run in group:
                if run is not None:
                    yield number, run, offset
        group = []  # a standalone line after an unclosed group: that group never committed
        yield number, record, offset


def _check_group(
    path: Path, number: int, commit: Mapping[str, Any], group: list[dict[str, Any] | None]
) -> None:
    ids, statuses = commit["ids"], commit["statuses"]
    if not (commit["runs"] == len(group) == len(ids) == len(statuses)):
        raise _corrupt(
            path,
            number,
            f"closes a group of {commit['runs']} runs ({len(ids)} ids, {len(statuses)} "
            f"statuses) after {len(group)} run lines",
        )
    for run, run_id, status in zip(group, ids, statuses, strict=True):
        if run is not None and (run["run_id"] != run_id or run["status"] != status):
            raise _corrupt(
                path,
                number,
                f"says run {run_id} ended {status}, but its group's line says run "
                f"{run['run_id']} ended {run['status']}",
            )


def _parse(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _corrupt(path, number, f"cannot be read ({exc})") from exc
    if not isinstance(value, dict):
        raise _corrupt(path, number, "is not a JSON object")
    return value


def _check_header(header: Mapping[str, Any], path: Path) -> None:
    if header.get("kind") != "header":
        raise _corrupt(path, 1, "is not a gmat-sweep manifest header")
    version = header.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ManifestCorruptError(
            f"{path} has manifest schema_version {version!r}; this gmat-sweep reads up to "
            f"{SCHEMA_VERSION}. Upgrade gmat-sweep-core to read it.",
            path=str(path),
            line_number=1,
        )
    if version < SCHEMA_VERSION:
        raise ManifestCorruptError(
            f"{path} has manifest schema_version {version} (per-run files under runs/), "
            f"which this gmat-sweep no longer reads; it reads version {SCHEMA_VERSION}. "
            "Read it with the gmat-sweep-core that wrote it, or run the sweep again.",
            path=str(path),
            line_number=1,
        )


def _corrupt(path: Path, number: int, what: str) -> ManifestCorruptError:
    return ManifestCorruptError(
        f"{path}, line {number}, {what}. The line was damaged after it was written; "
        "restore the file from a backup, or delete that line to resume (its run will be "
        "rerun).",
        path=str(path),
        line_number=number,
    )


def _cut_after(path: Path, size: int | None) -> None:
    """Cut what follows the committed lines (an unclosed group, a torn line) before appending."""
    if size is None:
        return
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() > size:
            fh.truncate(size)
