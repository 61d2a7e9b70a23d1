"""Writing one run's output DataFrame as Parquet, with what aggregation needs to know.

Each file carries a ``gmat_sweep`` entry in its schema metadata: the name of the
column that holds the epoch of each row (``time_column``, None when the output has
no epoch column) and gmat-run's ``epoch_scales``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["METADATA_KEY", "read_sweep_metadata", "write_frame"]

METADATA_KEY = b"gmat_sweep"


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically (temporary file, then rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    scales: dict[str, str] = dict(frame.attrs.get("epoch_scales", {}))
    time_column = next((c for c in frame.columns if c in scales), None)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[METADATA_KEY] = json.dumps(
        {"time_column": time_column, "epoch_scales": scales}, sort_keys=True
    ).encode()
    table = table.replace_schema_metadata(metadata)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_sweep_metadata(schema: Any) -> dict[str, Any]:
    """The ``gmat_sweep`` metadata of a Parquet schema (empty dict if absent)."""
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if not raw:
        return {}
    value = json.loads(raw)
    return value if isinstance(value, dict) else {}
