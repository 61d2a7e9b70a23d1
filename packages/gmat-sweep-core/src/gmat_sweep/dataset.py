"""The sweep's outputs on disk: one Parquet dataset per output, written by the driver alone.

Layout: ``<out>/data/<kind>__<Name>/part-<id>.parquet``. Every row carries ``run_id``
(int64) and ``attempt`` (int32) before the output's own columns, and integer channels
are widened to float64 (a failed run's missing values need NaN, and a column's type
must not depend on which values were swept). Each file's schema metadata holds the
``gmat_sweep`` entry of :mod:`gmat_sweep.outputs` (the time column).

Which part files count is the manifest's business: a part becomes live when the commit
line of its group is durable, and stops being live when a ``compact`` line replaces it
(:mod:`gmat_sweep.manifest`). Files under ``data/`` that are not live (a group the
driver did not commit before it died, a merge it did not finish) are never read and are
removed by :func:`remove_orphans` when the sweep is next opened for running.

Part files hold many runs: a group commit writes one part per output, and
:func:`compact` merges small parts into files of up to :data:`TARGET_PART_BYTES`, with
row groups of :data:`ROW_GROUP_ROWS` rows, streaming (the driver never holds more than
one row group of the merged file), so a sweep's file count stays far below Arrow's
advice (at most about 10^4 files of 20 MB-2 GB).

The driver's Arrow memory comes from the system allocator (:func:`use_system_allocator`)
unless the user chose one with ``ARROW_DEFAULT_MEMORY_POOL``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from gmat_sweep.manifest import Manifest

__all__ = [
    "ARROW_POOL_VARIABLE",
    "DATA_DIR",
    "ROW_GROUP_ROWS",
    "TARGET_PART_BYTES",
    "assemble",
    "compact",
    "read_row_groups",
    "remove_orphans",
    "use_system_allocator",
    "write_part",
]

DATA_DIR = "data"
#: Rows per row group of a part file (what columnar scanners such as DuckDB read best).
ROW_GROUP_ROWS = 131_072
#: Merged part files grow up to about this size on disk.
TARGET_PART_BYTES = 256 * 1024 * 1024
#: A part smaller than this is merged with others by :func:`compact`.
SMALL_PART_BYTES = TARGET_PART_BYTES // 4
#: During a session, an output's small parts are merged once there are this many.
COMPACT_AT = 32


#: The environment variable with which a user picks Arrow's allocator (then left alone).
ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def use_system_allocator() -> None:
    """Make the system allocator Arrow's default in this process, unless the user set
    :data:`ARROW_POOL_VARIABLE`.

    The driver allocates and frees many small Arrow buffers (a group's decoded outputs, the
    parts it merges, the columns of the DataFrame); pyarrow's default (mimalloc) keeps
    what it freed, which measured ~50 MiB more peak memory on a 600-run sweep's final merge
    and ~56 MiB more on 300,000 runs through the driver.
    """
    if os.environ.get(ARROW_POOL_VARIABLE):
        return
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def assemble(tables: list[pa.Table], run_ids: list[int], attempts: list[int]) -> pa.Table:
    """Dataset rows of several runs of one output: ``tables[i]`` is run ``run_ids[i]``'s.

    ``run_id`` and ``attempt`` come first; integer (and all-null) channels become float64,
    so two runs whose values gmat-run typed differently still share one schema.

    Raises:
        pyarrow.ArrowInvalid: the runs' columns cannot share one schema (e.g. a channel
            that is text in one run and numbers in another).
    """
    import numpy as np
    import pyarrow as pa

    first = tables[0].schema
    if all(t.schema.equals(first) for t in tables[1:]):  # the usual case: one cast, not one per run
        table = _widen(pa.concat_tables(tables))
    else:
        widened = [_widen(t) for t in tables]
        try:
            table = pa.concat_tables(widened)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            table = pa.concat_tables(widened, promote_options="permissive")
    table = table.replace_schema_metadata(tables[0].schema.metadata)
    counts = np.fromiter((t.num_rows for t in tables), dtype=np.int64, count=len(tables))
    ids = pa.array(np.repeat(np.asarray(run_ids, dtype=np.int64), counts))
    tries = pa.array(np.repeat(np.asarray(attempts, dtype=np.int32), counts))
    names = [c for c in table.column_names if c not in ("run_id", "attempt")]
    head = [
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("attempt", pa.int32(), nullable=False),
    ]
    schema = pa.schema(
        head + [table.schema.field(c) for c in names], metadata=table.schema.metadata
    )
    return pa.Table.from_arrays([ids, tries, *(table.column(c) for c in names)], schema=schema)


def _widen(table: pa.Table) -> pa.Table:
    """``table`` with integer and all-null columns cast to float64 (a no-op when none)."""
    import pyarrow as pa

    schema = table.schema
    widen = [
        i for i, f in enumerate(schema) if pa.types.is_integer(f.type) or pa.types.is_null(f.type)
    ]
    if not widen:
        return table
    fields = [pa.field(f.name, pa.float64()) if i in widen else f for i, f in enumerate(schema)]
    return table.cast(pa.schema(fields, metadata=schema.metadata))


def write_part(out_dir: Path, key: str, table: pa.Table) -> str:
    """Write ``table`` (rows of one output, from :func:`assemble`) as a new part, durably.

    Returns the part's path relative to ``out_dir``. The file is written under a
    temporary name, fsync'ed, renamed, and its directory fsync'ed.

    Raises:
        OSError: the disk is full or not writable (no part file is left behind).
    """
    relative = f"{DATA_DIR}/{key}/part-{uuid.uuid4().hex[:16]}.parquet"
    _write_durably(out_dir / relative, [table])
    return relative


def _write_durably(path: Path, tables: Iterable[pa.Table]) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, use_dictionary=_dictionary(table))
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if writer is not None:
            writer.close()
            writer = None
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):  # the first error is the one to report
                writer.close()
        tmp.unlink(missing_ok=True)
        raise


def _dictionary(table: pa.Table) -> list[str]:
    """Columns worth dictionary encoding: the run and attempt numbers, and text. A GMAT
    channel's floats are nearly all distinct, and building a dictionary for them that
    Parquet then abandons took more memory than the rows (+47 MiB merging 36 MiB)."""
    import pyarrow as pa

    return [
        f.name
        for f in table.schema
        if f.name in ("run_id", "attempt") or pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
    ]  # fmt: skip


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compact(out_dir: Path, manifest: Manifest, key: str, *, final: bool) -> None:
    """Merge the small live parts of output ``key`` into fewer, larger ones.

    Runs when ``key`` has :data:`COMPACT_AT` small parts, or with ``final`` (the end of
    a session) whenever it has two or more. Each merged part is durable before the
    manifest's ``compact`` line names it; the replaced files are removed only after
    that line is durable. Rows and their order are unchanged.

    Raises:
        OSError: writing failed (the live parts are untouched; a partial merged file is
            removed).
    """
    small = [p for p in manifest.parts.get(key, []) if _size(out_dir / p) < SMALL_PART_BYTES]
    if len(small) < (2 if final else COMPACT_AT):
        return
    for chunk in _chunks(out_dir, small):
        if len(chunk) < 2:
            continue
        relative = f"{DATA_DIR}/{key}/part-{uuid.uuid4().hex[:16]}.parquet"
        _write_durably(out_dir / relative, _row_groups(out_dir, chunk))
        manifest.compacted(key, relative, chunk)
        for part in chunk:
            (out_dir / part).unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _chunks(out_dir: Path, parts: list[str]) -> list[list[str]]:
    """Consecutive parts grouped so that each group stays under the target size."""
    chunks: list[list[str]] = [[]]
    size = 0
    for part in parts:
        part_size = _size(out_dir / part)
        if chunks[-1] and size + part_size > TARGET_PART_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(part)
        size += part_size
    return chunks


def read_row_groups(paths: Iterable[Path], columns: list[str] | None = None) -> Iterator[pa.Table]:
    """The rows of the part files ``paths``, in order, one row group at a time (only
    ``columns``, if given): what reads a dataset holds at once is one row group, whatever
    the size of the parts."""
    import pyarrow.parquet as pq

    for path in paths:
        with pq.ParquetFile(path) as file:
            for group in range(file.num_row_groups):
                yield file.read_row_group(group, columns=columns, use_threads=False)


def _row_groups(out_dir: Path, parts: list[str]) -> Iterable[pa.Table]:
    """The rows of ``parts`` in order, regrouped into tables of about ROW_GROUP_ROWS rows.

    Parts are read one row group at a time (:func:`read_row_groups`): a merged part is
    merged again with newer small ones while it stays small, and reading it whole made
    the driver's memory grow with the sweep."""
    import pyarrow as pa

    pending: list[pa.Table] = []
    rows = 0
    schema: pa.Schema | None = None
    for table in read_row_groups(out_dir / part for part in parts):
        if schema is None:
            schema = table.schema
        elif not table.schema.equals(schema):
            table = _unify(table, schema)
        pending.append(table)
        rows += table.num_rows
        if rows >= ROW_GROUP_ROWS:
            yield pa.concat_tables(pending)
            pending, rows = [], 0
    if pending:
        yield pa.concat_tables(pending)


def _unify(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in the merged file's schema (columns the first part lacks are refused)."""
    extra = [name for name in table.column_names if name not in schema.names]
    if extra:
        raise ValueError(f"part files of one output disagree on its columns: {extra}")
    return table.select(schema.names).cast(schema)


def remove_orphans(out_dir: Path, manifest: Manifest) -> int:
    """Remove files under ``data/`` that no committed line makes live; return how many."""
    data = out_dir / DATA_DIR
    if not data.is_dir():
        return 0
    live = {part for parts in manifest.parts.values() for part in parts}
    removed = 0
    for folder in data.iterdir():
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            relative = f"{DATA_DIR}/{folder.name}/{path.name}"
            is_part = path.name.startswith("part-") and path.suffix in (".parquet", ".tmp")
            if is_part and relative not in live:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
