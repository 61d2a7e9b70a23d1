"""Aggregation: every run's Parquet outputs into one DataFrame indexed (run_id, time).

What the DataFrame looks like (the contract users rely on):

- Index ``(run_id, time)``. ``time`` is the output's epoch column (the first column
  gmat-run recognised as an epoch, e.g. ``Sat.UTCGregorian``, ``datetime64[ns]``),
  which is therefore not repeated as a column. An output with no epoch column
  gets ``time`` = the row's position within its run (0, 1, 2...; nullable
  ``Int64``).
- One column per report channel, in the report's order, then ``__status``.
  Integer-looking numeric columns are always ``float64``: gmat-run types a column
  whose values happen to be whole numbers as ``int64`` in one run and ``float64``
  in another, and a failed run's missing values need NaN. Column dtypes therefore
  never depend on which runs failed or what values were swept.
- A run that did not end ok is one marker row: ``time`` is NaT (or <NA>), every
  channel is missing, and ``__status`` says ``failed``, ``timeout``, ``crashed``,
  ``lost`` or ``unconverged``. Ok rows have ``__status == "ok"``. ``__status`` is a
  categorical whose categories are always those six statuses, in that order.
- Rows are sorted by run_id, keeping each run's rows in the order GMAT wrote them.

Every kind of output is read the same way, ``kind=`` choosing which
(:data:`~gmat_sweep.outputs.KINDS`) and the output's name (its GMAT resource) which one:
``report`` (ReportFile), ``ephemeris`` (EphemerisFile: ``time`` is the ephemeris epoch,
one column per state element), ``solver`` (a Target/Optimize solver's iterations:
``time`` is the iteration's position, ``iteration`` and ``status`` are columns, with
each variable and goal), ``summary`` (a postprocess function's). ``contact``
(ContactLocator) is indexed by events instead: ``(run_id, interval)``, ``interval``
being a :class:`pandas.IntervalIndex` level of closed ``[Start, Stop]`` intervals
(``.left``, ``.right``, ``.contains(t)``, ``.overlaps(...)``), with ``Observer``,
``Duration`` and the report format's other columns; a report format without Start and
Stop (the per-tick ``AzimuthElevationRange*`` ones) is indexed by its ``Time`` like a
report.

Built column by column (:mod:`gmat_sweep.frame`) from the output's live part files under
``data/`` (:mod:`gmat_sweep.dataset`; which parts are live is the manifest's record),
taking each ok run's rows from the attempt the manifest accepted. :meth:`Results.dataset` hands out
the lazy dataset itself (with ``run_id`` and ``attempt`` columns) so that very large
sweeps can be summarised batch by batch without building the whole DataFrame;
:meth:`Results.to_pandas` refuses (:class:`~gmat_sweep.errors.ResultsTooLargeError`)
to build a DataFrame that would not fit in the memory this machine has free.

Which output: ``report=`` names it; by default a sweep with a postprocess function
returns its summary (kind ``summary``), any other its report (a warning names the
others when there are several).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from gmat_sweep.errors import GmatSweepError, ResultsTooLargeError
from gmat_sweep.frame import STATUS_COLUMN
from gmat_sweep.manifest import Manifest
from gmat_sweep.outputs import KINDS

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pads

__all__ = ["STATUS_COLUMN", "Results", "load_results"]

_RUN_ID = "run_id"
#: Building the DataFrame holds at most about this many times its size at its peak (the
#: frame, one row group as read, one column's reordered copy and a run code per row; see
#: :mod:`gmat_sweep.frame`).
_PEAK_FACTOR = 1.5
#: The columns of a contact report that become its interval level.
_INTERVAL = ("Start", "Stop")


class Results:
    """The outputs of a sweep directory, read through its manifest.

    Args:
        out_dir: The sweep directory.
        manifest: An already loaded manifest of ``out_dir`` (loaded if omitted).
    """

    def __init__(self, out_dir: str | Path, manifest: Manifest | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.manifest = manifest if manifest is not None else Manifest.load(self.out_dir)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.manifest.status_counts().items()))
        outputs = ", ".join(key.replace("__", " ", 1) for key in sorted(self.manifest.parts))
        return (
            f"<Results of {self.out_dir}: {self.manifest.n_runs} runs ({counts or 'none run'}); "
            f"outputs: {outputs or 'none'}>"
        )

    def output_names(self, kind: str | None = None) -> list[str]:
        """Names of the outputs of ``kind`` (default: :meth:`default_kind`) ok runs wrote.

        Raises:
            GmatSweepError: ``kind`` is not one of :data:`~gmat_sweep.outputs.KINDS`.
        """
        prefix = f"{_check_kind(kind) or self.default_kind()}__"
        return sorted(key[len(prefix) :] for key in self.manifest.parts if key.startswith(prefix))

    def convergence(self) -> pd.DataFrame:
        """How each Target/Optimize solver of each run ended: a DataFrame indexed
        ``(run_id, solver)`` with ``converged``, ``status``, ``iterations``,
        ``worst_goal``, ``residual``, ``tolerance`` and the run's ``__status``
        (:func:`gmat_sweep.convergence.convergence_table`; from the manifest)."""
        from gmat_sweep.convergence import convergence_table

        return convergence_table(self.manifest)

    def default_kind(self) -> str:
        """``summary`` when the sweep kept postprocess summaries, else ``report``; for a
        mission with no ReportFile, the first kind (:data:`~gmat_sweep.outputs.KINDS`
        order) it wrote."""
        written = {key.split("__", 1)[0] for key in self.manifest.parts}
        for kind in ("summary", "report", *KINDS):
            if kind in written:
                return kind
        return "report"

    def _choose(self, report: str | None, kind: str) -> str | None:
        names = self.output_names(kind)
        others = sorted(k.replace("__", " ", 1) for k in self.manifest.parts)
        if not names and others:
            raise GmatSweepError(
                f"no run of this sweep wrote a {kind} output; its outputs are: "
                f"{', '.join(others)}. Choose one with kind=<kind> and its name "
                "(e.g. Results(out).to_pandas('Name', kind='ephemeris'))."
            )
        if report is not None:
            if report not in names and names:
                raise GmatSweepError(
                    f"no {kind} named {report!r} in this sweep; it has: {', '.join(names)}"
                )
            return report
        if not names:
            return None
        if len(names) > 1:
            warnings.warn(
                f"this sweep has several {kind}s ({', '.join(names)}); returning "
                f"{names[0]!r}. Choose one with report=<name> (CLI: --report).",
                UserWarning,
                stacklevel=3,
            )
        return names[0]

    def _parts(self, key: str) -> list[Path]:
        return [self.out_dir / part for part in self.manifest.parts.get(key, [])]

    def dataset(self, report: str | None = None, *, kind: str | None = None) -> pads.Dataset:
        """A lazy pyarrow dataset over the chosen output of every ok run.

        Columns: ``run_id``, ``attempt``, then the output's own (integers widened to
        float64). It reads exactly the committed rows: one attempt per ok run. Nothing
        is read until it is scanned (``to_batches()``, ``to_table(columns=...,
        filter=...)``).

        Raises:
            GmatSweepError: no ok run wrote such an output.
        """
        import pyarrow.dataset as pads

        kind = _check_kind(kind) or self.default_kind()
        name = self._choose(report, kind)
        parts = self._parts(f"{kind}__{name}") if name is not None else []
        if not parts:
            raise GmatSweepError(f"no run of this sweep ended ok with a {kind} to read")
        schema, _ = _schema(parts[0])
        return pads.dataset([str(p) for p in parts], schema=schema, format="parquet")

    def frame_bytes(self, report: str | None = None, *, kind: str | None = None) -> int:
        """About how many bytes the DataFrame of this output takes (from the part files'
        metadata: nothing is read)."""
        import pyarrow.parquet as pq

        kind = _check_kind(kind) or self.default_kind()
        name = self._choose(report, kind)
        total = 0
        for part in self._parts(f"{kind}__{name}") if name is not None else []:
            meta = pq.read_metadata(part)
            for group in range(meta.num_row_groups):
                row_group = meta.row_group(group)
                # Parquet's uncompressed size, and the status and index columns besides.
                total += row_group.total_byte_size + 24 * row_group.num_rows
        return total + 64 * self.manifest.n_runs

    def to_pandas(
        self, report: str | None = None, *, kind: str | None = None, check_memory: bool = True
    ) -> pd.DataFrame:
        """The whole sweep as one DataFrame (see the module docstring for its shape).

        Raises:
            GmatSweepError: ``report`` names no output of the sweep.
            ResultsTooLargeError: with ``check_memory``, building it would need more
                memory than this machine has free; read :meth:`dataset` in pieces.
        """
        import numpy as np

        from gmat_sweep.dataset import use_system_allocator
        from gmat_sweep.frame import build_frame

        use_system_allocator()
        kind = _check_kind(kind) or self.default_kind()
        name = self._choose(report, kind)
        if check_memory:
            self._check_memory(name, kind)
        parts = self._parts(f"{kind}__{name}") if name is not None else []
        schema, time_column = _schema(parts[0]) if parts else (_empty_schema(), None)
        return build_frame(
            parts,
            schema,
            time_column,
            np.frombuffer(self.manifest.status_codes(), dtype=np.uint8),
            np.frombuffer(self.manifest.attempt_counts(), dtype=np.uint32),
            interval=_INTERVAL if kind == "contact" and _has_interval(schema) else None,
        )

    def _check_memory(self, name: str | None, kind: str) -> None:
        need = int(self.frame_bytes(name, kind=kind) * _PEAK_FACTOR)
        free = _available_memory()
        if free is None or need <= free:
            return
        gib = 2**30
        raise ResultsTooLargeError(
            f"the DataFrame of {kind} {name!r} of {self.out_dir} would need about "
            f"{need / gib:.1f} GiB to build, more than the {free / gib:.1f} GiB this "
            "machine has free. Every run is saved on disk. Read it in pieces instead: "
            f"gmat_sweep.Results({str(self.out_dir)!r}).dataset() is a lazy pyarrow dataset "
            "(to_table(columns=..., filter=...), to_batches()); pass lazy=True to sweep() "
            "or run() to get those Results; or keep less per run (keep=, rows=, "
            "postprocess=). See docs/dataframe.md."
        )


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation here (Linux: MemAvailable)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _schema(first_part: Path) -> tuple[pa.Schema, str | None]:
    """Schema of the aggregated output (from its first part file) and its time column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gmat_sweep.outputs import read_sweep_metadata

    first = pq.read_schema(first_part)
    time_column = read_sweep_metadata(first).get("time_column")
    fields = []
    for f in first:
        kind = f.type
        if f.name not in (_RUN_ID, "attempt") and (
            pa.types.is_integer(kind) or pa.types.is_floating(kind)
        ):
            kind = pa.float64()
        fields.append(pa.field(f.name, kind))
    return pa.schema(fields), time_column


def _check_kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KINDS:
        raise GmatSweepError(f"unknown output kind {kind!r}; the kinds are: {', '.join(KINDS)}")
    return kind


def _has_interval(schema: pa.Schema) -> bool:
    """Whether ``schema`` has the timestamp columns of a contact interval."""
    import pyarrow as pa

    names = set(schema.names)
    return all(
        name in names and pa.types.is_timestamp(schema.field(name).type) for name in _INTERVAL
    )


def _empty_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(_RUN_ID, pa.int64())])


def load_results(
    out_dir: str | Path, report: str | None = None, *, kind: str | None = None
) -> pd.DataFrame:
    """The DataFrame of the sweep in ``out_dir``, finished or not (see :class:`Results`)."""
    return Results(out_dir).to_pandas(report, kind=kind)
