"""Building the sweep's DataFrame from its dataset, one column at a time.

:func:`build_frame` makes the DataFrame whose shape :mod:`gmat_sweep.results` documents.
It never holds the whole dataset twice: it first reads only the ``run_id`` and
``attempt`` columns of the live part files, one row group at a time, to decide which rows
count (the accepted attempt of each ok run), where each goes (run_id order, each run's
rows as GMAT wrote them) and where a failed run's marker row goes, keeping a run code
per row (4 bytes) rather than the ids; then it reads the other columns in one more pass
over the row groups, so at its peak it holds the columns, the layout, one row group and
one column's reordered copy. The index is assembled from codes (no hashing of the run
ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gmat_sweep.dataset import read_row_groups

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    import pyarrow as pa

__all__ = ["build_frame", "status_column"]

RUN_ID = "run_id"
ATTEMPT = "attempt"
STATUS_COLUMN = "__status"


@dataclass(frozen=True)
class _Runs:
    """The runs of the DataFrame's rows, in row order (run ids sorted)."""

    levels: npt.NDArray[np.int64]  # per run: its run_id
    starts: npt.NDArray[np.intp]  # per run: its first row
    lengths: npt.NDArray[np.intp]  # per run: its number of rows
    codes: npt.NDArray[np.signedinteger[Any]]  # per row: its run's position in levels


@dataclass(frozen=True)
class _Layout:
    """Where every row of the DataFrame comes from."""

    # Per final row: the row of the read columns, or -1 (a marker); None when every row
    # read is kept where it is (the columns need no moving).
    source: npt.NDArray[np.intp] | None
    status: npt.NDArray[np.uint8]  # per final row: its status code
    runs: _Runs
    read: int  # rows in the part files (kept or not)


def build_frame(
    parts: list[Path],
    schema: pa.Schema,
    time_column: str | None,
    codes: npt.NDArray[np.uint8],
    attempts: npt.NDArray[np.uint32],
    interval: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """The DataFrame of one output: its ``parts``' rows of the accepted attempts, and one
    marker row per run whose latest committed attempt did not end ok.

    ``schema`` is the dataset's (integers widened to float64), ``codes`` and ``attempts``
    the manifest's status code and attempt count per run. With ``interval`` (a start and
    a stop column, e.g. a contact report's ``Start`` and ``Stop``), the index is
    ``(run_id, interval)`` instead: an :class:`pandas.IntervalIndex` level of closed
    ``[start, stop]`` intervals (NaN at marker rows), and the two columns are not
    repeated; ``time_column`` is then ignored.
    """
    import pandas as pd

    from gmat_sweep.manifest import STATUSES

    layout = _layout(parts, codes, attempts, STATUSES.index("ok"))
    names = [name for name in schema.names if name not in (RUN_ID, ATTEMPT)]
    data = _read_columns(parts, schema, names, layout)
    level = "time"
    if interval is not None:
        start, stop = (data.pop(name) for name in interval)
        time_values: Any = pd.arrays.IntervalArray.from_arrays(start, stop, closed="both")
        level = "interval"
    else:
        time_values = data.pop(time_column) if time_column in data else None
    data[STATUS_COLUMN] = status_column(layout.status)
    index = _index(layout, time_values, level)
    frame: pd.DataFrame = pd.DataFrame(data, index=index, copy=False)
    return frame


def status_column(codes: npt.NDArray[np.uint8]) -> pd.Categorical:
    """The ``__status`` values of rows whose manifest status codes are ``codes`` (none 0):
    a categorical whose categories are every status a run can end with, in the manifest's
    order (``ok``, ``failed``, ``timeout``, ``crashed``, ``lost``, ``unconverged``), whichever
    of them occur, so that frames of different sweeps concatenate without changing dtype.
    One byte a row, made without touching a string."""
    import numpy as np
    import pandas as pd

    from gmat_sweep.manifest import STATUSES

    dtype = pd.CategoricalDtype(list(STATUSES[1:]), ordered=False)
    return pd.Categorical.from_codes(codes.astype(np.int8) - 1, dtype=dtype)


def _layout(
    parts: list[Path], codes: npt.NDArray[np.uint8], attempts: npt.NDArray[np.uint32], ok: int
) -> _Layout:
    import numpy as np

    ids, keep = _read_ids(parts, codes, attempts, ok)
    read = len(ids)
    sorted_ids = len(ids) < 2 or bool(np.all(ids[1:] >= ids[:-1]))
    failed = np.flatnonzero((codes != 0) & (codes != ok)).astype(np.int64)
    if sorted_ids and not len(failed) and bool(keep.all()):
        return _Layout(None, np.full(read, ok, dtype=np.uint8), _runs(ids), read)
    rows = np.flatnonzero(keep)
    del keep
    kept_ids = ids[rows]
    del ids
    # Runs in run_id order, each run's rows in the order GMAT wrote them (a stable sort).
    if not sorted_ids:
        order = np.argsort(kept_ids, kind="stable")
        rows, kept_ids = rows[order], kept_ids[order]
    if not len(failed):
        return _Layout(rows, np.full(len(rows), ok, dtype=np.uint8), _runs(kept_ids), read)
    # A failed run has no kept rows, so its marker goes where its id sorts among them.
    at = np.searchsorted(kept_ids, failed) + np.arange(len(failed))
    total = len(rows) + len(failed)
    is_marker = np.zeros(total, dtype=bool)
    is_marker[at] = True
    source = np.full(total, -1, dtype=np.intp)
    source[~is_marker] = rows
    all_ids = np.empty(total, dtype=np.int64)
    all_ids[~is_marker] = kept_ids
    all_ids[at] = failed
    status = np.full(total, ok, dtype=np.uint8)
    status[at] = codes[failed]
    return _Layout(source, status, _runs(all_ids), read)


def _runs(ids: npt.NDArray[np.int64]) -> _Runs:
    """The runs of rows whose (sorted) run ids are ``ids``; the ids themselves are not
    kept (8 bytes a row), only a run code per row (4)."""
    import numpy as np

    n = len(ids)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if n else np.empty(0, np.intp)
    lengths = np.diff(np.r_[starts, n])
    small = np.int32 if n < 2**31 else np.int64
    codes = np.repeat(np.arange(len(starts), dtype=small), lengths)
    return _Runs(ids[starts], starts, lengths, codes)


def _read_ids(
    parts: list[Path], codes: npt.NDArray[np.uint8], attempts: npt.NDArray[np.uint32], ok: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Every row's run id, and whether it counts: its run ended ok and this is the
    attempt the manifest accepted (a defence in depth: only committed parts are read,
    and they hold one attempt per ok run), so never a row of a run the manifest does not
    know. Read one row group at a time."""
    import numpy as np

    total = sum(_rows_of(part) for part in parts)
    ids = np.empty(total, dtype=np.int64)
    keep = np.empty(total, dtype=bool)
    at = 0
    for group in read_row_groups(parts, [RUN_ID, ATTEMPT]):
        end = at + group.num_rows
        run_ids = group.column(0).to_numpy()
        tried = group.column(1).to_numpy()
        ids[at:end] = run_ids
        known = (run_ids >= 0) & (run_ids < len(codes))
        if bool(known.all()):
            keep[at:end] = (codes[run_ids] == ok) & (tried == attempts[run_ids])
        else:
            counted = np.zeros(len(run_ids), dtype=bool)
            inside = run_ids[known]
            counted[known] = (codes[inside] == ok) & (tried[known] == attempts[inside])
            keep[at:end] = counted
        at = end
    return ids, keep


def _rows_of(part: Path) -> int:
    import pyarrow.parquet as pq

    with pq.ParquetFile(part) as file:
        rows: int = file.metadata.num_rows
    return rows


def _read_columns(
    parts: list[Path],
    schema: pa.Schema,
    names: list[str],
    layout: _Layout,
) -> dict[str, Any]:
    """The columns ``names`` of every part as pandas converts them (numpy arrays or
    extension arrays), cast to the dataset's types, in the DataFrame's row order (the
    ``layout``'s ``source``; missing at marker rows).

    One pass over the row groups. A float64 column (every numeric channel) is copied
    straight into its own array, allocated before any row group is read, nulls as NaN;
    other columns (the epoch, text) are gathered as Arrow chunks and converted at the
    end. Read column by column instead, each column's freed Arrow buffers stayed in the
    process (the system allocator does not return memory freed between arrays that are
    kept), about 1.5 times the column again.
    """
    import numpy as np
    import pyarrow as pa

    source = layout.source
    kinds = {name: schema.field(name).type for name in names}
    dense = {name: np.empty(layout.read, dtype=np.float64) for name in names
             if kinds[name] == pa.float64()}  # fmt: skip
    chunks: dict[str, list[Any]] = {name: [] for name in names if name not in dense}
    at = 0
    for group in read_row_groups(parts, names):
        for name, column in zip(names, group.columns, strict=True):
            if column.type != kinds[name]:
                column = column.cast(kinds[name])
            if name in dense:
                dense[name][at : at + len(column)] = column.to_numpy(zero_copy_only=False)
            else:
                chunks[name].extend(column.chunks)
        at += group.num_rows
    data: dict[str, Any] = {}
    for name in names:  # each placed in turn: one column's copy at a time
        if name in dense:
            values: Any = dense.pop(name)
        else:
            merged = pa.chunked_array(chunks.pop(name), type=kinds[name])
            values = merged.to_pandas().array
            del merged
        data[name] = values if source is None else _place(values, source)
        del values
    return data


def _place(values: Any, source: npt.NDArray[np.intp]) -> Any:
    """``values`` in the DataFrame's row order, missing (NaN, NaT, <NA>) at markers."""
    from pandas.api.extensions import take

    return take(values, source, allow_fill=True)


def _index(layout: _Layout, time_values: Any, level: str = "time") -> pd.MultiIndex:
    """``(run_id, <level>)`` from codes: the run codes of the layout, and the epoch
    column (or the intervals) factorised, or the row's position within its run."""
    import numpy as np
    import pandas as pd

    runs = layout.runs
    n = len(runs.codes)
    if time_values is not None:
        time_codes, time_levels = pd.factorize(time_values, sort=True)
        time_level: Any = pd.Index(time_levels)
    else:
        longest = int(runs.lengths.max()) if n else 0
        kind = np.int8 if longest < 2**7 else np.int16 if longest < 2**15 else np.int64
        if n and bool((runs.lengths == longest).all()):  # the usual case: one report length
            time_codes = np.tile(np.arange(longest, dtype=kind), len(runs.lengths))
        else:
            position = np.arange(n, dtype=np.int64) - np.repeat(runs.starts, runs.lengths)
            time_codes = position.astype(kind)
            del position
        if layout.source is not None:
            time_codes[layout.source < 0] = -1  # a marker row's time is missing
        time_level = pd.Index(pd.array(np.arange(longest), dtype="Int64"))
    levels: list[Any] = [pd.Index(runs.levels), time_level]
    codes: list[Any] = [runs.codes, time_codes]
    index: pd.MultiIndex = pd.MultiIndex(
        levels=levels, codes=codes, names=[RUN_ID, level], verify_integrity=False
    )
    return index
