"""What the statistics read: a sweep directory's outputs batch by batch, or a DataFrame.

:func:`open_source` turns what a user hands to :mod:`gmat_sweep.analysis` (a
:class:`~gmat_sweep.results.Results`, a sweep directory, or a DataFrame in the shape
:mod:`gmat_sweep.results` documents) into a :class:`Source`, which every statistic reads
the same way:

- :attr:`Source.codes`: per run id, the status code of its latest committed attempt
  (an index into :data:`~gmat_sweep.manifest.STATUSES`; 0: no committed attempt);
- :meth:`Source.batches`: the rows that count, in pieces of at most
  :data:`BATCH_ROWS` rows: those of the accepted attempt of each ok run (as
  :mod:`gmat_sweep.frame` selects them), each run's rows in the order GMAT wrote them,
  with each row's run id, its time as an ``int64`` key, and float64 channel values.

A sweep directory is never read whole: a batch holds only the columns asked for.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from gmat_sweep.errors import AnalysisError, GmatSweepError
from gmat_sweep.manifest import STATUSES
from gmat_sweep.results import STATUS_COLUMN, Results

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pads

__all__ = ["BATCH_ROWS", "OK", "Batch", "RunsLike", "Source", "open_source", "pick_channels"]

#: What the statistics accept as a sweep: its Results, its directory, or its DataFrame.
RunsLike = Union[Results, str, "os.PathLike[str]", "pd.DataFrame"]
#: Rows per batch read from a sweep directory.
BATCH_ROWS = 131_072
OK = STATUSES.index("ok")
_RUN_ID, _ATTEMPT = "run_id", "attempt"


@dataclass(frozen=True)
class Batch:
    """Rows that count, of ok runs: ``ids[i]`` is row i's run id, ``time[i]`` its time key
    (nanoseconds or the unit of :attr:`Source.time_unit` for an epoch; the row's
    position within its run otherwise), ``values[name][i]`` its value of a channel."""

    ids: npt.NDArray[np.int64]
    time: npt.NDArray[np.int64]
    values: dict[str, npt.NDArray[np.float64]]


class Source:
    """A sweep's rows, read batch by batch (see the module docstring).

    Attributes:
        codes: Per run id below the sweep's run count, its status code.
        channels: The numeric channels, in the output's order.
        time_unit: The epoch's numpy unit (``"ns"``...) when rows have an epoch; None
            when the time of a row is its position within its run.
        results: The sweep's Results (None for a DataFrame).
    """

    codes: npt.NDArray[np.uint8]
    channels: list[str]
    time_unit: str | None
    results: Results | None = None

    def batches(self, channels: Sequence[str]) -> Iterator[Batch]:
        """The rows that count, with the values of ``channels``, in pieces (in the
        dataset's order: each run's rows as GMAT wrote them)."""
        raise NotImplementedError

    def status_counts(self) -> dict[str, int]:
        """Runs per status of their latest committed attempt (runs not yet run omitted)."""
        counts = np.bincount(self.codes, minlength=len(STATUSES))
        return {
            name: int(counts[code]) for code, name in enumerate(STATUSES) if name and counts[code]
        }

    def time_index(self, keys: npt.NDArray[np.int64]) -> pd.Index:
        """The ``time`` index of these keys, as the sweep's DataFrame types it."""
        import pandas as pd

        index: pd.Index
        if self.time_unit is None:
            index = pd.Index(pd.array(keys, dtype="Int64"), name="time")
        else:
            index = pd.DatetimeIndex(keys.view(f"datetime64[{self.time_unit}]"), name="time")
        return index


def pick_channels(source: Source, channels: str | Sequence[str] | None) -> list[str]:
    """``channels`` checked against the source's numeric channels (None: all of them).

    Raises:
        AnalysisError: a name is not a numeric channel of the output.
    """
    if channels is None:
        return list(source.channels)
    names = [channels] if isinstance(channels, str) else list(channels)
    for name in names:
        if name not in source.channels:
            close = difflib.get_close_matches(name, source.channels, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            have = ", ".join(source.channels) or "none (no run ended ok with this output)"
            raise AnalysisError(
                f"{name!r} is not a numeric channel of this output{hint} Its channels: {have}."
            )
    return names


def open_source(runs: RunsLike, report: str | None = None, *, kind: str | None = None) -> Source:
    """The :class:`Source` of ``runs``: a Results, a sweep directory, or a DataFrame.

    Raises:
        FileNotFoundError: a directory that holds no sweep.
        AnalysisError: a DataFrame not in the documented shape, or another type.
        GmatSweepError: ``report`` names no output of the sweep.
    """
    import pandas as pd

    if isinstance(runs, pd.DataFrame):
        return _FrameSource(runs)
    if isinstance(runs, (str, os.PathLike)):
        runs = Results(Path(runs))
    if not isinstance(runs, Results):
        raise AnalysisError(
            f"expected a sweep: its Results, its directory or its DataFrame, not "
            f"{type(runs).__name__}."
        )
    return _ResultsSource(runs, report, kind)


class _ResultsSource(Source):
    """A sweep directory's dataset, scanned batch by batch."""

    def __init__(self, results: Results, report: str | None, kind: str | None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from gmat_sweep.outputs import read_sweep_metadata

        self.results = results
        manifest = results.manifest
        self.codes = np.frombuffer(manifest.status_codes(), dtype=np.uint8)
        self._attempts = np.frombuffer(manifest.attempt_counts(), dtype=np.uint32)
        self._dataset: pads.Dataset | None
        try:
            self._dataset = results.dataset(report, kind=kind)
        except GmatSweepError:
            if report is not None and results.output_names(kind):
                raise  # a name that is not there, rather than no ok run
            self._dataset = None
        self._time_column: str | None = None
        self.time_unit = None
        self.channels = []
        if self._dataset is None:
            return
        schema = self._dataset.schema
        self._time_column = read_sweep_metadata(pq.read_schema(self._dataset.files[0])).get(
            "time_column"
        )
        if self._time_column is not None:
            kind_of_time = schema.field(self._time_column).type
            if not pa.types.is_timestamp(kind_of_time):
                raise AnalysisError(
                    f"the epoch column {self._time_column!r} is of type {kind_of_time}, "
                    "not a timestamp; gmat-sweep cannot place its rows in time."
                )
            self.time_unit = str(kind_of_time.unit)
        self.channels = [
            f.name
            for f in schema
            if f.name not in (_RUN_ID, _ATTEMPT, self._time_column)
            and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))
        ]

    def batches(self, channels: Sequence[str]) -> Iterator[Batch]:
        if self._dataset is None:
            return
        columns = [_RUN_ID, _ATTEMPT, *([self._time_column] if self._time_column else [])]
        columns += [c for c in channels if c not in columns]
        seen = np.zeros(len(self.codes), dtype=np.int64)  # rows so far per run (positions)
        scan = self._dataset.to_batches(
            columns=columns, batch_size=BATCH_ROWS, batch_readahead=2, fragment_readahead=1
        )
        for record_batch in scan:
            ids = _ints(record_batch.column(_RUN_ID))
            tried = _ints(record_batch.column(_ATTEMPT))
            inside = ids < len(self.codes)
            keep = np.zeros(len(ids), dtype=bool)
            keep[inside] = (self.codes[ids[inside]] == OK) & (
                tried[inside] == self._attempts[ids[inside]]
            )
            rows = np.flatnonzero(keep)
            if not len(rows):
                continue
            kept = ids[rows]
            if self._time_column is not None:
                time = _epochs(record_batch.column(self._time_column))[rows]
            else:
                time = _positions(kept, seen)
            values = {c: _floats(record_batch.column(c))[rows] for c in channels}
            yield Batch(kept, time, values)


class _FrameSource(Source):
    """A DataFrame in the shape :mod:`gmat_sweep.results` documents, as one batch."""

    def __init__(self, frame: pd.DataFrame) -> None:
        import pandas as pd

        index = frame.index
        if (
            not isinstance(index, pd.MultiIndex)
            or list(index.names) != [_RUN_ID, "time"]
            or STATUS_COLUMN not in frame.columns
        ):
            raise AnalysisError(
                "expected the sweep's DataFrame: indexed (run_id, time), with a "
                f"{STATUS_COLUMN!r} column (as sweep() and load_results() return it); got "
                f"index {list(index.names)} and columns {list(frame.columns)[:8]}."
            )
        ids = index.get_level_values(_RUN_ID).to_numpy(dtype=np.int64)
        status = frame[STATUS_COLUMN].to_numpy(dtype=object)
        unknown = sorted({str(s) for s in status} - set(STATUSES[1:]))
        if unknown:
            raise AnalysisError(
                f"{STATUS_COLUMN} holds {unknown}, which is no run status "
                f"({', '.join(STATUSES[1:])})."
            )
        code_of = {name: code for code, name in enumerate(STATUSES)}
        self.codes = np.zeros(int(ids.max()) + 1 if len(ids) else 0, dtype=np.uint8)
        self.codes[ids] = np.fromiter((code_of[s] for s in status), np.uint8, len(status))
        ok = np.flatnonzero(status == "ok")
        self._ids = ids[ok]
        times = index.get_level_values("time")
        if isinstance(times, pd.DatetimeIndex):
            self.time_unit = str(times.unit)
            self._time = times.to_numpy()[ok].view(np.int64)
        else:
            self.time_unit = None
            self._time = times.to_numpy(dtype=np.int64, na_value=-1)[ok]
        self._frame = frame.iloc[ok]
        self.channels = [
            str(c)
            for c in frame.columns
            if c != STATUS_COLUMN and pd.api.types.is_numeric_dtype(frame[c].dtype)
        ]

    def batches(self, channels: Sequence[str]) -> Iterator[Batch]:
        if not len(self._ids):
            return
        values = {c: self._frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in channels}
        yield Batch(self._ids, self._time, values)


def _ints(column: pa.Array) -> npt.NDArray[np.int64]:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _floats(column: pa.Array) -> npt.NDArray[np.float64]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.type != pa.float64():
        column = pc.cast(column, pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _epochs(column: pa.Array) -> npt.NDArray[np.int64]:
    values: Any = column.to_numpy(zero_copy_only=False)
    return np.asarray(values).view(np.int64)


def _positions(ids: npt.NDArray[np.int64], seen: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each row's position within its run: ``seen`` (rows of each run in earlier batches,
    updated) plus how many rows of the same run come before it in this batch."""
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    lengths = np.diff(np.r_[starts, len(ordered)])
    within = np.arange(len(ordered)) - np.repeat(starts, lengths)
    positions = np.empty(len(ids), dtype=np.int64)
    positions[order] = within + seen[ordered]
    seen[ordered[starts]] += lengths
    return positions
