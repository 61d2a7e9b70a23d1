"""The DataFrame builder on hand-made part files: order, accepted attempts, markers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.testing import assert_frame_equal

from gmat_sweep.frame import build_frame
from gmat_sweep.manifest import STATUSES

OK, FAILED, TIMEOUT = (STATUSES.index(s) for s in ("ok", "failed", "timeout"))


def _part(path: Path, run_ids: list[int], attempts: list[int], values: list[float]) -> Path:
    table = pa.table(
        {
            "run_id": pa.array(run_ids, pa.int64()),
            "attempt": pa.array(attempts, pa.int32()),
            "Sat.SMA": pa.array(values, pa.float64()),
        }
    )
    pq.write_table(table, path)
    return path


def test_runs_come_out_in_run_id_order_with_only_accepted_attempts_and_markers(
    tmp_path: Path,
) -> None:
    # Committed out of order; run 1's first attempt (ok, later superseded) is still in an
    # old part; run 9 is beyond the manifest's runs; run 3 failed, run 5 timed out.
    parts = [
        _part(tmp_path / "a.parquet", [2, 2, 1, 1], [1, 1, 1, 1], [20.0, 21.0, 10.0, 11.0]),
        _part(tmp_path / "b.parquet", [0, 0, 9, 1], [1, 1, 1, 2], [0.0, 1.0, 90.0, 12.0]),
    ]
    codes = np.array([OK, OK, OK, FAILED, 0, TIMEOUT], dtype=np.uint8)
    attempts = np.array([1, 2, 1, 1, 0, 1], dtype=np.uint32)
    schema = pa.schema([("run_id", pa.int64()), ("attempt", pa.int32()), ("Sat.SMA", pa.float64())])
    frame = build_frame(parts, schema, None, codes, attempts)

    expected = pd.DataFrame(
        {
            "run_id": [0, 0, 1, 2, 2, 3, 5],
            "time": pd.array([0, 1, 0, 0, 1, None, None], dtype="Int64"),
            "Sat.SMA": [0.0, 1.0, 12.0, 20.0, 21.0, np.nan, np.nan],
            "__status": pd.Categorical(
                ["ok"] * 5 + ["failed", "timeout"],
                categories=["ok", "failed", "timeout", "crashed", "lost", "unconverged"],
            ),
        }
    ).set_index(["run_id", "time"])
    assert_frame_equal(frame, expected, check_exact=True)


def test_a_sweep_with_no_ok_run_is_markers_only(tmp_path: Path) -> None:
    codes = np.array([FAILED, TIMEOUT], dtype=np.uint8)
    attempts = np.array([1, 1], dtype=np.uint32)
    frame = build_frame([], pa.schema([("run_id", pa.int64())]), None, codes, attempts)
    assert frame["__status"].tolist() == ["failed", "timeout"]
    assert frame["__status"].cat.categories.tolist()[:3] == ["ok", "failed", "timeout"]
    assert frame.index.get_level_values("run_id").tolist() == [0, 1]
    assert frame.index.get_level_values("time").isna().all()


def test_the_driver_uses_the_system_allocator_unless_the_user_chose_one() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import pyarrow as pa\n"
        "from gmat_sweep.dataset import use_system_allocator\n"
        "use_system_allocator()\n"
        "print(pa.default_memory_pool().backend_name)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    chosen = {**env, "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}
    ours = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    theirs = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=chosen
    )
    assert ours.stdout.strip() == "system", ours.stderr
    assert theirs.stdout.strip() == "mimalloc", theirs.stderr


def test_parts_of_many_row_groups_are_read_whole_and_in_order(tmp_path: Path) -> None:
    # Three runs of 5 rows each (a float channel with a null, an integer channel the
    # schema widens to float64, a text channel), in row groups of 2 rows, across two
    # parts; then one of runs of unequal lengths, whose positions are counted per run.
    rows = {"run_id": [0] * 5 + [1] * 5 + [2] * 5, "attempt": [1] * 15}
    sma = [float(v) for v in range(15)]
    sma[7] = None  # type: ignore[call-overload]
    table = pa.table(
        {
            "run_id": pa.array(rows["run_id"], pa.int64()),
            "attempt": pa.array(rows["attempt"], pa.int32()),
            "Sat.SMA": pa.array(sma, pa.float64()),
            "Count": pa.array(range(15), pa.int64()),
            "Note": pa.array([f"n{i}" for i in range(15)], pa.string()),
        }
    )
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(table.slice(0, 9), first, row_group_size=2)
    pq.write_table(table.slice(9), second, row_group_size=2)
    assert pq.ParquetFile(first).num_row_groups == 5
    schema = pa.schema(
        [(n, t) for n, t in zip(table.schema.names, table.schema.types, strict=True)]
    ).set(3, pa.field("Count", pa.float64()))
    codes = np.full(3, OK, dtype=np.uint8)
    attempts = np.ones(3, dtype=np.uint32)

    frame = build_frame([first, second], schema, None, codes, attempts)

    assert frame["Sat.SMA"].dtype == np.float64 and frame["Count"].dtype == np.float64
    assert np.isnan(frame["Sat.SMA"].iloc[7])
    assert frame["Sat.SMA"].drop(frame.index[7]).tolist() == [v for v in sma if v is not None]
    assert frame["Count"].tolist() == [float(v) for v in range(15)]
    assert frame["Note"].tolist() == [f"n{i}" for i in range(15)]
    assert frame.index.get_level_values("time").tolist() == [0, 1, 2, 3, 4] * 3

    uneven = _part(tmp_path / "c.parquet", [0, 0, 0, 2, 2], [1] * 5, [1.0, 2.0, 3.0, 4.0, 5.0])
    three = np.array([OK, FAILED, OK], dtype=np.uint8)
    plain = pa.schema([("run_id", pa.int64()), ("attempt", pa.int32()), ("Sat.SMA", pa.float64())])
    frame = build_frame([uneven], plain, None, three, attempts)
    assert frame.index.get_level_values("run_id").tolist() == [0, 0, 0, 1, 2, 2]
    assert frame.index.get_level_values("time").tolist() == [0, 1, 2, pd.NA, 0, 1]
    assert frame["__status"].tolist() == ["ok"] * 3 + ["failed"] + ["ok"] * 2
