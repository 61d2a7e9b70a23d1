"""Building the sweep's DataFrame from its dataset, one column at a time.

:func:`build_frame` makes the DataFrame whose shape :mod:`gmat_sweep.results` documents.
It never holds the whole dataset twice: it first reads only the ``run_id`` and
``attempt`` columns of the live part files (12 bytes a row) to decide which rows count
(the accepted attempt of each ok run), where each goes (run_id order, each run's rows
as GMAT wrote them) and where a failed run's marker row goes; then it reads each
column in turn and places it, so at its peak it holds the columns built so far plus
one column as read. The index is assembled from codes (no hashing of the run ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
class _Layout:
    """Where every row of the DataFrame comes from."""

    # Per final row: the row of the read columns, or -1 (a marker); None when every row
    # read is kept where it is (the columns need no moving).
    source: npt.NDArray[np.intp] | None
    ids: npt.NDArray[np.int64]  # per final row: its run_id (sorted)
    status: npt.NDArray[np.uint8]  # per final row: its status code


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
    data: dict[str, Any] = {}
    for name in schema.names:
        if name in (RUN_ID, ATTEMPT):
            continue
        values = _read_column(parts, schema, name)
        data[name] = values if layout.source is None else _place(values, layout.source)
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

    ids, tried = _read_ids(parts)
    if len(ids) and int(ids.max()) >= len(codes):  # rows of runs the manifest does not know
        inside = ids < len(codes)
        ids, tried = ids[inside], tried[inside]
        moved: npt.NDArray[np.intp] | None = np.flatnonzero(inside)
    else:
        moved = None
    # Only the accepted attempt of each ok run counts (a defence in depth: only committed
    # parts are read, and they hold one attempt per ok run).
    keep = codes[ids] == ok
    keep &= tried == attempts[ids]
    del tried
    sorted_ids = len(ids) < 2 or bool(np.all(ids[1:] >= ids[:-1]))
    failed = np.flatnonzero((codes != 0) & (codes != ok)).astype(np.int64)
    if moved is None and sorted_ids and not len(failed) and bool(keep.all()):
        return _Layout(None, ids, np.full(len(ids), ok, dtype=np.uint8))
    rows = np.flatnonzero(keep)
    del keep
    kept_ids = ids[rows]
    if moved is not None:
        rows = moved[rows]
    # Runs in run_id order, each run's rows in the order GMAT wrote them (a stable sort).
    if not sorted_ids:
        order = np.argsort(kept_ids, kind="stable")
        rows, kept_ids = rows[order], kept_ids[order]
    if not len(failed):
        return _Layout(rows, kept_ids, np.full(len(rows), ok, dtype=np.uint8))
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
    return _Layout(source, all_ids, status)


def _read_ids(parts: list[Path]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    import numpy as np
    import pyarrow.parquet as pq

    ids, tried = [], []
    for part in parts:
        table = pq.read_table(part, columns=[RUN_ID, ATTEMPT])
        ids.append(table.column(RUN_ID).to_numpy().astype(np.int64, copy=False))
        tried.append(table.column(ATTEMPT).to_numpy().astype(np.int32, copy=False))
    if not ids:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
    if len(ids) == 1:
        return ids[0], tried[0]
    return np.concatenate(ids), np.concatenate(tried)


def _read_column(parts: list[Path], schema: pa.Schema, name: str) -> Any:
    """One column of every part, in part order, as pandas converts it (a numpy array or an
    extension array), cast to the dataset's type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = schema.field(name).type
    chunks: list[Any] = []
    for part in parts:
        column = pq.read_table(part, columns=[name]).column(0)
        chunks.extend(c.cast(kind) if c.type != kind else c for c in column.chunks)
    merged = pa.chunked_array(chunks, type=kind)
    return merged.to_pandas().array


def _place(values: Any, source: npt.NDArray[np.intp]) -> Any:
    """``values`` in the DataFrame's row order, missing (NaN, NaT, <NA>) at markers."""
    from pandas.api.extensions import take

    return take(values, source, allow_fill=True)


def _index(layout: _Layout, time_values: Any, level: str = "time") -> pd.MultiIndex:
    """``(run_id, <level>)`` from codes: run ids are sorted, so their codes are a
    cumulative count; the second level is the epoch column (or the intervals), or the
    row's position within its run."""
    import numpy as np
    import pandas as pd

    ids = layout.ids
    n = len(ids)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if n else np.empty(0, np.intp)
    run_levels = ids[starts]
    lengths = np.diff(np.r_[starts, n])
    small = np.int32 if n < 2**31 else np.int64
    run_codes = np.repeat(np.arange(len(starts), dtype=small), lengths)
    if time_values is not None:
        time_codes, time_levels = pd.factorize(time_values, sort=True)
        time_level: Any = pd.Index(time_levels)
    else:
        time_codes = np.arange(n, dtype=small)
        time_codes -= np.repeat(starts.astype(small), lengths)
        if layout.source is not None:
            time_codes[layout.source < 0] = -1  # a marker row's time is missing
        longest = int(lengths.max()) if n else 0
        time_level = pd.Index(pd.array(np.arange(longest), dtype="Int64"))
    levels: list[Any] = [pd.Index(run_levels), time_level]
    codes: list[Any] = [run_codes, time_codes]
    index: pd.MultiIndex = pd.MultiIndex(
        levels=levels, codes=codes, names=[RUN_ID, level], verify_integrity=False
    )
    return index
