"""End-to-end sweeps through the real gmat-run, on loky with 2 workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from gmat_sweep import LocalPool, Sweep, latin_hypercube, monte_carlo, sweep
from gmat_sweep.manifest import MANIFEST_NAME, Manifest
from gmat_sweep.processes import process_stat
from gmat_sweep.testing import FakeGmatRule, hung_processes, kit_script, manifest_lines

DATA = Path(__file__).parent / "data"
SCRIPT = kit_script()
GRID = {"Sat.SMA": [7000.0, 7100.0], "Sat.INC": [28.5, 51.6]}


def _manifest_lines(out: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (out / MANIFEST_NAME).read_text().splitlines()]


@pytest.fixture(scope="module")
def pool() -> LocalPool:
    with LocalPool(2) as p:
        yield p


def test_grid_sweep_returns_one_tidy_dataframe(gmat: Path, tmp_path: Path, pool: LocalPool) -> None:
    out = tmp_path / "out"
    df = sweep(SCRIPT, grid=GRID, backend=pool, out=out)

    assert list(df.index.names) == ["run_id", "time"]
    assert df.index.get_level_values("run_id").unique().tolist() == [0, 1, 2, 3]
    assert str(df.index.get_level_values("time").dtype) == "datetime64[ns]"
    assert "Sat.UTCGregorian" not in df.columns  # it became the time index
    assert {"Sat.SMA", "Sat.INC", "Sat.Earth.Altitude", "Coast", "__status"} <= set(df.columns)
    assert (df["__status"] == "ok").all()
    assert all(str(df[c].dtype) == "float64" for c in ["Sat.SMA", "Sat.ElapsedSecs", "Coast"])
    first = df.groupby(level="run_id").head(1)
    # Grid order: last parameter fastest. The overrides show up in the reported state.
    assert first["Sat.SMA"].round(3).tolist() == [7000.0, 7000.0, 7100.0, 7100.0]
    assert first["Sat.INC"].round(6).tolist() == [28.5, 51.6, 28.5, 51.6]

    lines = _manifest_lines(out)
    header, runs = lines[0], [x for x in lines if x["kind"] == "run"]
    assert header["design"]["kind"] == "grid" and header["n_runs"] == 4
    assert header["script"]["path"] == "script/kit_orbit.script"
    assert (out / "script" / "kit_orbit.script").read_text() == SCRIPT.read_text()
    for name in ("gmat-run", "numpy", "scipy", "pandas", "pyarrow", "python", "gmat-sweep-core"):
        assert name in header["versions"]
    assert sorted(r["run_id"] for r in runs) == [0, 1, 2, 3]
    rows = df.groupby(level="run_id").size()
    for r in runs:
        assert r["status"] == "ok" and r["log"] is None
        assert r["outputs"] == {"report__OrbitReport": int(rows[r["run_id"]])}
        assert set(r["fingerprint"]) >= {"host", "python", "gmat_sweep_core", "gmat_run", "gmat"}
    # The sweep directory: the manifest, the script, one part file; no per-run files.
    files = sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet"))
    assert files == Manifest.load(out).parts["report__OrbitReport"] and len(files) == 1
    assert sorted(p.name for p in out.iterdir()) == ["data", "manifest.jsonl", "script"]


def test_same_sweep_twice_and_in_a_fresh_process_is_bit_equal(
    gmat: Path, tmp_path: Path, pool: LocalPool
) -> None:
    a = monte_carlo(
        SCRIPT, 6, {"Sat.SMA": ("normal", 7000, 10)}, seed=7, backend=pool, out=tmp_path / "a"
    )
    b = monte_carlo(
        SCRIPT, 6, {"Sat.SMA": ("normal", 7000, 10)}, seed=7, backend=pool, out=tmp_path / "b"
    )
    assert_frame_equal(a, b, check_exact=True)
    code = textwrap.dedent(
        f"""
        from gmat_sweep import monte_carlo
        df = monte_carlo({str(SCRIPT)!r}, 6, {{"Sat.SMA": ("normal", 7000, 10)}}, seed=7,
                         backend="local", backend_options={{"workers": 2}},
                         out={str(tmp_path / "c")!r})
        df.to_pickle({str(tmp_path / "c.pkl")!r})
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    assert_frame_equal(a, pd.read_pickle(tmp_path / "c.pkl"), check_exact=True)


def test_a_crashing_run_fails_alone(gmat_with: Callable[..., Path], tmp_path: Path) -> None:
    gmat_with(FakeGmatRule(when={"Sat.SMA": 7100.0}, action="crash"))
    with LocalPool(2) as pool, pytest.warns(UserWarning, match="1 crashed"):
        df = sweep(
            SCRIPT, grid={"Sat.SMA": [7000.0, 7100.0, 7200.0]}, backend=pool, out=tmp_path / "o"
        )
    status = df.groupby(level="run_id")["__status"].first().to_dict()
    assert status == {0: "ok", 1: "crashed", 2: "ok"}
    entry = Manifest.load(tmp_path / "o").latest_entries()[1]
    assert "SIGSEGV" in entry["error"]["message"]
    assert entry["attempt"] == 1  # a crash is GMAT's doing: not retried


def test_a_hanging_run_times_out_and_others_finish(
    gmat_with: Callable[..., Path], tmp_path: Path
) -> None:
    root = gmat_with(FakeGmatRule(when={"Sat.SMA": 7100.0}, action="hang"))
    with LocalPool(2) as pool:
        with pytest.warns(UserWarning, match="1 timeout"):
            df = sweep(
                SCRIPT,
                grid={"Sat.SMA": [7000.0, 7100.0, 7200.0]},
                backend=pool,
                out=tmp_path / "o",
                timeout=5,
            )
        # The hung GMAT process is gone once its run is reported, not at the pool's close.
        [(pid, start)] = hung_processes(root)
        stat = process_stat(pid)
        assert stat is None or stat[1] != start, f"the timed-out GMAT process {pid} still runs"
    status = df.groupby(level="run_id")["__status"].first().to_dict()
    assert status == {0: "ok", 1: "timeout", 2: "ok"}
    entry = Manifest.load(tmp_path / "o").latest_entries()[1]
    assert "timeout of 5 s" in entry["error"]["message"]


def test_a_failing_run_records_gmats_reason(gmat_with: Callable[..., Path], tmp_path: Path) -> None:
    gmat_with(FakeGmatRule(when={"Sat.SMA": 7000.0}, action="fail"))
    with LocalPool(2) as pool:
        with pytest.warns(UserWarning, match="1 failed"):
            df = sweep(SCRIPT, grid={"Sat.SMA": [7000.0, 7100.0]}, backend=pool, out=tmp_path / "o")
        ok_dtypes = sweep(
            SCRIPT, grid={"Sat.SMA": [7100.0]}, backend=pool, out=tmp_path / "p", progress=False
        ).dtypes
    assert df.dtypes.to_dict() == ok_dtypes.to_dict()  # a failed run does not change dtypes
    marker = df.loc[0]
    assert len(marker) == 1 and marker["__status"].iloc[0] == "failed"
    assert pd.isna(marker.index[0]) and marker["Sat.SMA"].isna().all()
    entry = Manifest.load(tmp_path / "o").latest_entries()[0]
    assert entry["error"]["type"] == "GmatRunError" and entry["error"]["log_tail"]


def test_no_batch_barrier_a_straggler_does_not_idle_the_other_worker(
    gmat_with: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run 0 waits at a gate that opens only once the eleven others are committed: with a
    # barrier between batches they never would be, and run 0 would fail at the gate's limit.
    gate = tmp_path / "gate"
    gmat_with(FakeGmatRule(when={"Sat.SMA": 7000.0}, action="gate", path=gate, seconds=120.0))
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    out = tmp_path / "o"
    smas = [7000.0 + 10 * i for i in range(12)]
    committed_at_open: list[list[int]] = []

    def open_gate_when_the_others_are_in() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = sorted(int(line["run_id"]) for line in manifest_lines(out, "run"))
            if len(done) >= 11:
                committed_at_open.append(done)
                break
            time.sleep(0.05)
        gate.touch()  # at the deadline too, so the sweep ends either way

    opener = threading.Thread(target=open_gate_when_the_others_are_in, daemon=True)
    opener.start()
    with LocalPool(2) as pool:
        df = sweep(SCRIPT, grid={"Sat.SMA": smas}, backend=pool, out=out, progress=False)
    opener.join(timeout=10)
    assert committed_at_open == [list(range(1, 12))], committed_at_open
    assert (df["__status"] == "ok").all()
    order = [r["run_id"] for r in _manifest_lines(out) if r["kind"] == "run"]
    assert order[-1] == 0, order


def test_swept_variable_with_whole_and_fractional_values_has_one_dtype(
    gmat: Path, tmp_path: Path, pool: LocalPool
) -> None:
    df = sweep(SCRIPT, grid={"Coast.Value": [600, 630.5]}, backend=pool, out=tmp_path / "o")
    assert str(df["Coast"].dtype) == "float64"
    assert df.groupby(level="run_id")["Coast"].first().tolist() == [600.0, 630.5]


def test_report_without_epoch_column_is_indexed_by_row_number(
    gmat: Path, tmp_path: Path, pool: LocalPool
) -> None:
    script = tmp_path / "noepoch.script"
    script.write_text(SCRIPT.read_text().replace("{Sat.UTCGregorian, ", "{"))
    df = sweep(script, grid={"Sat.SMA": [7000.0, 7050.0]}, backend=pool, out=tmp_path / "o")
    times = df.loc[0].index.tolist()
    assert times == list(range(len(times))) and len(times) > 2
    assert str(df.index.get_level_values("time").dtype) == "Int64"


def test_several_reports_are_chosen_by_name(gmat: Path, tmp_path: Path, pool: LocalPool) -> None:
    script = tmp_path / "two.script"
    extra = (
        "Create ReportFile Short;\nGMAT Short.Filename = 'short.txt';\n"
        "GMAT Short.Add = {Sat.UTCGregorian, Sat.RMAG};\n\nBeginMissionSequence;"
    )
    script.write_text(SCRIPT.read_text().replace("BeginMissionSequence;", extra))
    with pytest.warns(UserWarning, match="several reports"):
        default = sweep(script, grid={"Sat.SMA": [7000.0]}, backend=pool, out=tmp_path / "o")
    assert "Coast" in default.columns  # 'OrbitReport' sorts before 'Short'
    short = Sweep.from_manifest(tmp_path / "o").results(report="Short")
    assert list(short.columns) == ["Sat.RMAG", "__status"]


def test_latin_hypercube_sweep_runs(gmat: Path, tmp_path: Path, pool: LocalPool) -> None:
    df = latin_hypercube(
        SCRIPT, 4, {"Sat.SMA": (7000.0, 7400.0)}, seed=3, backend=pool, out=tmp_path / "o"
    )
    smas = sorted(df.groupby(level="run_id")["Sat.SMA"].first())
    # One sample in each quarter of the range.
    assert [int((s - 7000.0) // 100) for s in smas] == [0, 1, 2, 3]


def test_reuse_off_gives_the_same_answer(gmat: Path, tmp_path: Path) -> None:
    with LocalPool(2) as reused, LocalPool(2, reuse_gmat_context=False) as fresh:
        a = sweep(SCRIPT, grid=GRID, backend=reused, out=tmp_path / "a")
        b = sweep(SCRIPT, grid=GRID, backend=fresh, out=tmp_path / "b")
    assert_frame_equal(a, b, check_exact=True)


def test_debug_pool_runs_in_process(gmat: Path, tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        from gmat_sweep import sweep
        df = sweep({str(SCRIPT)!r}, grid={{"Sat.SMA": [7000.0]}}, backend="debug",
                   out={str(tmp_path / "o")!r})
        import sys
        assert "gmat_run" in sys.modules and "gmatpy" in sys.modules  # GMAT loaded right here
        print(df["__status"].tolist())
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "['ok'" in done.stdout


def test_a_new_sweep_never_overwrites_an_existing_one(
    gmat: Path, tmp_path: Path, pool: LocalPool
) -> None:
    from gmat_sweep.errors import ManifestExistsError

    out = tmp_path / "o"
    sweep(SCRIPT, grid={"Sat.SMA": [7000.0]}, backend=pool, out=out)
    before = (out / MANIFEST_NAME).read_bytes()
    with pytest.raises(ManifestExistsError, match="resume"):
        sweep(SCRIPT, grid={"Sat.SMA": [7100.0]}, backend=pool, out=out)
    assert (out / MANIFEST_NAME).read_bytes() == before
    df = sweep(SCRIPT, grid={"Sat.SMA": [7100.0]}, backend=pool, out=out, overwrite=True)
    assert df["Sat.SMA"].iloc[0] == pytest.approx(7100.0)


def test_extend_matches_a_fresh_larger_sweep(gmat: Path, tmp_path: Path, pool: LocalPool) -> None:
    perturb = {"Sat.SMA": ("uniform", 6900, 7300), "Sat.INC": ("normal", 51.6, 0.5)}
    monte_carlo(SCRIPT, 4, perturb, seed=11, backend=pool, out=tmp_path / "small")
    extended = Sweep.from_manifest(tmp_path / "small", backend=pool).extend(3)
    fresh = monte_carlo(SCRIPT, 7, perturb, seed=11, backend=pool, out=tmp_path / "big")
    assert_frame_equal(extended, fresh, check_exact=True)


def test_fingerprint_mismatch_is_reported(gmat: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from gmat_sweep.show import describe_sweep

    class MixedImages(LocalPool):
        def submit(self, specs):  # type: ignore[no-untyped-def]
            from concurrent.futures import Future

            future = super().submit(specs)
            wrapped: Future = Future()

            def mix(o):  # type: ignore[no-untyped-def]
                if o.run_id != 1:
                    return o
                return replace(o, fingerprint={**o.fingerprint, "gmat_run": "0.0.1"})

            future.add_done_callback(lambda f: wrapped.set_result([mix(o) for o in f.result()]))
            return wrapped

    with MixedImages(1) as pool, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sweep(SCRIPT, grid={"Sat.SMA": [7000.0, 7100.0]}, backend=pool, out=tmp_path / "o")
    assert any("mismatched worker images" in str(w.message) for w in caught)
    assert "different software" in describe_sweep(tmp_path / "o")
