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
  channel is missing, and ``__status`` says ``failed``, ``timeout``, ``crashed``
  or ``lost``. Ok rows have ``__status == "ok"``.
- Rows are sorted by run_id, keeping each run's rows in the order GMAT wrote them.

Built with pyarrow's dataset API over the per-run files; :meth:`Results.dataset`
hands out the lazy dataset itself (with a ``run_id`` column) so that very large
sweeps can be summarised batch by batch without building the whole DataFrame.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gmat_sweep.errors import GmatSweepError
from gmat_sweep.manifest import Manifest

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pads

__all__ = ["STATUS_COLUMN", "Results", "load_results"]

STATUS_COLUMN = "__status"
_RUN_ID = "run_id"


class Results:
    """The outputs of a sweep directory, read through its manifest.

    Args:
        out_dir: The sweep directory.
        manifest: An already loaded manifest of ``out_dir`` (loaded if omitted).
    """

    def __init__(self, out_dir: str | Path, manifest: Manifest | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.manifest = manifest if manifest is not None else Manifest.load(self.out_dir)

    def output_names(self, kind: str = "report") -> list[str]:
        """Names of the outputs of ``kind`` that ok runs wrote, sorted."""
        prefix = f"{kind}__"
        names = {
            key[len(prefix) :]
            for rec in self.manifest.runs.values()
            if rec.status == "ok"
            for key in rec.outputs
            if key.startswith(prefix)
        }
        return sorted(names)

    def _choose(self, report: str | None, kind: str) -> str | None:
        names = self.output_names(kind)
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

    def _files(self, key: str) -> list[tuple[int, Path]]:
        files = []
        for run_id in sorted(self.manifest.runs):
            rec = self.manifest.runs[run_id]
            if rec.status == "ok" and key in rec.outputs:
                files.append((run_id, self.out_dir / rec.outputs[key]))
        return files

    def dataset(self, report: str | None = None, *, kind: str = "report") -> pads.Dataset:
        """A lazy pyarrow dataset over the chosen output of every ok run.

        Has a ``run_id`` column (from the run directory names) and the output's
        columns, with integer columns widened to float64. Nothing is read until
        it is scanned (``to_batches()``, ``to_table(columns=..., filter=...)``).

        Raises:
            GmatSweepError: no ok run wrote such an output.
        """
        import pyarrow.dataset as pads

        name = self._choose(report, kind)
        files = self._files(f"{kind}__{name}") if name is not None else []
        if not files:
            raise GmatSweepError(f"no run of this sweep ended ok with a {kind} to read")
        schema, _ = self._schema([p for _, p in files])
        return pads.dataset(
            [str(p) for _, p in files],
            schema=schema,
            format="parquet",
            partitioning=pads.partitioning(_partition_schema()),
            partition_base_dir=str(self.out_dir / "runs"),
        )

    def _schema(self, paths: Sequence[Path]) -> tuple[pa.Schema, str | None]:
        """Schema of the aggregated output (from the first file) and its time column."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from gmat_sweep._parquet import read_sweep_metadata

        first = pq.read_schema(paths[0])
        time_column = read_sweep_metadata(first).get("time_column")
        fields = [pa.field(_RUN_ID, pa.int64())]
        for f in first:
            if f.name == _RUN_ID:
                continue
            kind = f.type
            if pa.types.is_integer(kind) or pa.types.is_floating(kind):
                kind = pa.float64()
            fields.append(pa.field(f.name, kind))
        return pa.schema(fields), time_column

    def to_pandas(self, report: str | None = None, *, kind: str = "report") -> pd.DataFrame:
        """The whole sweep as one DataFrame (see the module docstring for its shape)."""
        import pandas as pd
        import pyarrow as pa

        name = self._choose(report, kind)
        files = self._files(f"{kind}__{name}") if name is not None else []
        statuses = {run_id: rec.status for run_id, rec in self.manifest.runs.items()}
        if files:
            schema, time_column = self._schema([p for _, p in files])
            table = self.dataset(name, kind=kind).to_table()
        else:
            schema, time_column = _empty_schema(), None
            table = schema.empty_table()
        # Row order within a run is file order; make run order explicit and stable.
        positions = pa.array(range(table.num_rows), type=pa.int64())
        table = table.append_column("__row", positions)
        table = table.sort_by([(_RUN_ID, "ascending"), ("__row", "ascending")])
        frame = table.drop_columns(["__row"]).to_pandas()
        frame[STATUS_COLUMN] = "ok"

        failed = sorted(run_id for run_id, status in statuses.items() if status != "ok")
        if failed:
            markers = schema.empty_table().to_pandas()
            markers = markers.reindex(range(len(failed)))
            markers[_RUN_ID] = failed
            markers[STATUS_COLUMN] = [statuses[r] for r in failed]
            markers = markers.astype(frame.dtypes.to_dict())
            frame = pd.concat([frame, markers], ignore_index=True)

        if time_column is not None and time_column in frame.columns:
            frame = frame.rename(columns={time_column: "time"})
        else:
            time = frame.groupby(_RUN_ID, sort=False).cumcount().astype("Int64")
            time[frame[STATUS_COLUMN] != "ok"] = pd.NA
            frame.insert(1, "time", time)
        frame = frame.sort_values(_RUN_ID, kind="stable")
        indexed: pd.DataFrame = frame.set_index([_RUN_ID, "time"])
        return indexed


def _partition_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(_RUN_ID, pa.int64())])


def _empty_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(_RUN_ID, pa.int64())])


def load_results(
    out_dir: str | Path, report: str | None = None, *, kind: str = "report"
) -> pd.DataFrame:
    """The DataFrame of the sweep in ``out_dir``, finished or not (see :class:`Results`)."""
    return Results(out_dir).to_pandas(report, kind=kind)
