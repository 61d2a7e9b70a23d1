"""A run's parsed outputs as they travel from the GMAT host to the driver: Arrow IPC.

The host encodes each DataFrame gmat-run parsed (reports, ephemerides, contacts, solver
runs) with :func:`encode_frame`; the bytes travel back inside the run's
:class:`~gmat_sweep.spec.RunOutcome` through whatever the backend uses, so workers need
no filesystem shared with the driver. The driver decodes them with :func:`decode_table`
and writes them into the sweep's dataset (:mod:`gmat_sweep.dataset`).

Each table carries a ``gmat_sweep`` entry in its schema metadata: the name of the column
that holds the epoch of each row (``time_column``, None when the output has no epoch
column) and gmat-run's ``epoch_scales``. Output keys are ``<kind>__<Name>`` with kind
one of :data:`KINDS`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "KINDS",
    "METADATA_KEY",
    "decode_table",
    "encode_frame",
    "read_sweep_metadata",
    "time_column",
]

METADATA_KEY = b"gmat_sweep"
#: The kinds of output, in the order a run reports them: what gmat-run parses, then the
#: summaries a sweep's postprocess function returns (:mod:`gmat_sweep.retention`).
KINDS = ("report", "ephemeris", "contact", "solver", "summary")


def time_column(frame: pd.DataFrame) -> str | None:
    """The column holding the epoch of each row: the first gmat-run typed as an epoch."""
    scales = frame.attrs.get("epoch_scales") or {}
    return next((str(c) for c in frame.columns if c in scales), None)


def encode_frame(frame: pd.DataFrame) -> bytes:
    """``frame`` as one Arrow IPC stream, with the ``gmat_sweep`` metadata."""
    import pyarrow as pa

    scales: dict[str, str] = dict(frame.attrs.get("epoch_scales") or {})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata.pop(b"pandas", None)  # the driver rebuilds the frame from the dataset's schema
    metadata[METADATA_KEY] = json.dumps(
        {"time_column": time_column(frame), "epoch_scales": scales}, sort_keys=True
    ).encode()
    table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode_table(data: bytes) -> pa.Table:
    """The table :func:`encode_frame` encoded.

    Raises:
        pyarrow.ArrowInvalid: ``data`` is not an Arrow IPC stream.
    """
    import pyarrow as pa

    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()


def read_sweep_metadata(schema: Any) -> dict[str, Any]:
    """The ``gmat_sweep`` metadata of an Arrow or Parquet schema (empty dict if absent)."""
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if not raw:
        return {}
    value = json.loads(raw)
    return value if isinstance(value, dict) else {}
