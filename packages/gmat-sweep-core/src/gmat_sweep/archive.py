"""``gmat-sweep archive``: a sweep as one zip file that is a sweep again once unzipped.

:func:`archive` writes, at the root of the zip (so ``unzip bundle.zip -d DIR`` makes
``DIR`` the sweep directory):

- ``manifest.jsonl``, ``script/`` (the script the sweep ran) and ``design.parquet``
  (the table of runs of an explicit, Sobol' or Morris design) when the sweep has one;
- ``data/``: the live part files of every output (those the manifest's commit lines
  name, less those a merge replaced), never orphans;
- ``logs/`` (the logs of attempts that did not end ok) with ``logs=True``, and
  ``runs/`` (the GMAT files kept with ``keep_gmat_files``) with ``gmat_files=True``;
- ``SHA256SUMS``: one line per other member, ``<sha256>  <path>``, as ``sha256sum``
  writes and checks them (``sha256sum -c SHA256SUMS`` in the unzipped directory;
  :func:`verify` from Python).

Unzipped anywhere, on any machine, the directory is a sweep that ``gmat-sweep show``,
:class:`~gmat_sweep.results.Results` and ``resume`` accept (the manifest's paths are
relative to it). The sweep is held locked (``.gmat-sweep.lock``) while it is read, so a
driver cannot start on it meanwhile, and one running it now makes :func:`archive`
refuse. The zip is written under a temporary name beside the target and renamed when
complete: there is never a partial bundle at ``bundle``, and an existing one is never
replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gmat_sweep.errors import ArchiveError, OutputDirError, SweepLockedError
from gmat_sweep.lock import LOCK_NAME, SweepLock
from gmat_sweep.manifest import MANIFEST_NAME, Manifest

__all__ = ["CHECKSUMS", "Bundle", "archive", "verify"]

CHECKSUMS = "SHA256SUMS"
_DESIGN_TABLE = "design.parquet"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Bundle:
    """What :func:`archive` wrote: the zip, its members (``SHA256SUMS`` not counted)
    and their total size before compression, in bytes."""

    path: Path
    files: int
    size: int


def archive(
    out: str | os.PathLike[str],
    bundle: str | os.PathLike[str],
    *,
    logs: bool = False,
    gmat_files: bool = False,
) -> Bundle:
    """Write the sweep in ``out`` to the zip file ``bundle`` (see the module docstring).

    Raises:
        FileNotFoundError: ``out`` holds no sweep.
        ManifestCorruptError: its manifest cannot be read.
        ArchiveError: ``bundle`` exists already, or cannot be written.
        SweepLockedError: a driver is running, resuming or extending the sweep now.
    """
    source, target = Path(out), Path(bundle)
    Manifest.load(source)  # no sweep, or a corrupt one: refused before anything else
    if target.exists():
        raise ArchiveError(
            f"{target} exists already; archive to a new file name, or remove it first."
        )
    with _held(source):
        members = _members(source, Manifest.load(source), logs=logs, gmat_files=gmat_files)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
        try:
            size = _write_zip(partial, source, members)
            _publish(partial, target)
        except OSError as exc:
            raise ArchiveError(
                f"cannot write {target}: {exc.strerror or exc}. Choose a place you can write to."
            ) from exc
        finally:
            partial.unlink(missing_ok=True)
    return Bundle(target, len(members), size)


def verify(bundle: str | os.PathLike[str]) -> int:
    """Check every member of an archive against its ``SHA256SUMS``; returns how many.

    Raises:
        ArchiveError: no ``SHA256SUMS``, a member missing or not listed, or a checksum
            that does not match (naming the member).
    """
    with zipfile.ZipFile(bundle) as zf:
        try:
            listed = _parse_sums(zf.read(CHECKSUMS).decode("utf-8"))
        except KeyError:
            raise ArchiveError(f"{bundle} has no {CHECKSUMS}: not a gmat-sweep archive") from None
        names = {info.filename for info in zf.infolist() if not info.is_dir()} - {CHECKSUMS}
        if names != set(listed):
            extra, missing = sorted(names - set(listed)), sorted(set(listed) - names)
            raise ArchiveError(
                f"{bundle}: members and {CHECKSUMS} differ (not listed: {extra}; listed but "
                f"missing: {missing})"
            )
        for name, expected in listed.items():
            digest = hashlib.sha256()
            with zf.open(name) as fh:
                for chunk in iter(lambda: fh.read(_CHUNK), b""):
                    digest.update(chunk)
            if digest.hexdigest() != expected:
                raise ArchiveError(f"{bundle}: {name} does not match its checksum in {CHECKSUMS}")
    return len(listed)


@contextlib.contextmanager
def _held(out: Path) -> Iterator[None]:
    """The sweep's lock, held while it is read: refused while a driver runs it. A sweep
    directory this process cannot write to is read without it, unless it is locked."""
    lock, locked = SweepLock(out, what="archive"), True
    try:
        lock.acquire()
    except SweepLockedError as exc:
        raise SweepLockedError(f"cannot archive it now: {exc}", holder=exc.holder) from None
    except OutputDirError:
        if (out / LOCK_NAME).exists():
            raise SweepLockedError(
                f"cannot archive {out} now: it holds a lock file ({out / LOCK_NAME}), so a "
                "driver may be running it, and this process cannot write there to check. "
                "Wait for it to finish; only if you are sure no driver uses it, delete the "
                "lock file.",
                holder={},
            ) from None
        locked = False
    try:
        yield
    finally:
        if locked:
            lock.release()


def _members(out: Path, manifest: Manifest, *, logs: bool, gmat_files: bool) -> list[str]:
    """The paths (relative to ``out``, with ``/``) of the files the bundle holds, sorted."""
    names = [MANIFEST_NAME, *_files(out, "script")]
    if (out / _DESIGN_TABLE).is_file():
        names.append(_DESIGN_TABLE)
    for parts in manifest.parts.values():
        names += parts
    if logs:
        names += _files(out, "logs")
    if gmat_files:
        names += _files(out, "runs")
    missing = [name for name in names if not (out / name).is_file()]
    if missing:
        raise ArchiveError(
            f"{out} lacks files its manifest names ({', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}); the sweep directory is incomplete."
        )
    return sorted(set(names))


def _files(out: Path, folder: str) -> list[str]:
    """Files under ``out/folder``, skipping hidden entries (a replaced attempt's files)."""
    root = out / folder
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(out)
        if path.is_file() and not any(p.startswith(".") for p in relative.parts):
            found.append(relative.as_posix())
    return found


def _write_zip(partial: Path, out: Path, members: list[str]) -> int:
    """Write the zip at ``partial``, checksumming each member as it is copied; fsync it.
    Returns the members' total size."""
    sums: list[str] = []
    size = 0
    with zipfile.ZipFile(partial, "x", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name in members:
            path = out / name
            info = zipfile.ZipInfo.from_file(path, name, strict_timestamps=False)
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".parquet") else zipfile.ZIP_DEFLATED
            )  # Parquet parts are compressed already
            digest = hashlib.sha256()
            with path.open("rb") as src, zf.open(info, "w") as dst:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            sums.append(f"{digest.hexdigest()}  {name}\n")
        zf.writestr(CHECKSUMS, "".join(sums))
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    return size


def _publish(partial: Path, target: Path) -> None:
    """Give the finished zip its name, never replacing a file that appeared meanwhile."""
    try:
        os.link(partial, target)  # fails if target exists: no clobbering
    except FileExistsError:
        raise ArchiveError(
            f"{target} appeared while the archive was written; it was left as it is."
        ) from None
    except OSError:  # a filesystem without hard links
        if target.exists():
            raise ArchiveError(f"{target} appeared while the archive was written.") from None
        os.replace(partial, target)


def _parse_sums(text: str) -> dict[str, str]:
    listed = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ArchiveError(f"{CHECKSUMS} has a malformed line: {line!r}")
        listed[name] = digest
    return listed
