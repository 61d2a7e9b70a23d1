"""Group commit under faults: a driver killed at each step of a commit, a full disk.

Each killed driver is a real process ended by SIGKILL at a chosen point of the commit
protocol (after a group's part file is durable, halfway through its manifest lines, or
after its commit line); the sweep must then resume to a result bit-equal to an
uninterrupted one, with no duplicate rows and no run committed before the kill rerun.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from gmat_sweep import LocalPool, Sweep, sweep
from gmat_sweep.commit import GroupCommitter
from gmat_sweep.errors import OutputDirError
from gmat_sweep.manifest import MANIFEST_NAME, Manifest
from gmat_sweep.testing import kit_script

SCRIPT = kit_script()
SMAS = [7000.0 + 20 * i for i in range(12)]

# Code run in the driver before the sweep: SIGKILL this process at one point of the
# third group commit.
_KILL_AT = {
    "after-the-part-file": """
        import gmat_sweep.dataset as dataset
        real = dataset.write_part
        calls = []
        def write_part(*args, **kwargs):
            relative = real(*args, **kwargs)
            calls.append(relative)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return relative
        dataset.write_part = write_part
    """,
    "halfway-through-the-lines": """
        from gmat_sweep.manifest import Manifest, _dumps
        real = Manifest.commit
        calls = []
        def commit(self, runs, parts):
            calls.append(1)
            if len(calls) == 3:
                text = "".join(_dumps(r) + "\\n" for r in runs)
                text += _dumps({"kind": "commit", "runs": len(runs), "parts": dict(parts)})
                with open(self.path, "a") as fh:
                    fh.write(text[: len(text) - 7])
                    fh.flush()
                    os.fsync(fh.fileno())
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, runs, parts)
        Manifest.commit = commit
    """,
    "after-the-commit-line": """
        from gmat_sweep.manifest import Manifest
        real = Manifest.commit
        calls = []
        def commit(self, runs, parts):
            real(self, runs, parts)
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        Manifest.commit = commit
    """,
}


def _killed_driver(out: Path, tmp_path: Path, inject: str) -> int:
    code = textwrap.dedent(inject) + textwrap.dedent(
        f"""
        from gmat_sweep import sweep
        sweep({str(SCRIPT)!r}, grid={{"Sat.SMA": {SMAS!r}}}, out={str(out)!r},
              backend="local", backend_options={{"workers": 2}}, progress=False)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", "import os, signal\n" + code],
        cwd=tmp_path,
        env={**os.environ, "GMAT_SWEEP_COMMIT_WINDOW_S": "0"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, stderr.decode()
    return proc.returncode


@pytest.mark.parametrize("point", sorted(_KILL_AT))
def test_a_driver_killed_inside_a_group_commit_resumes_bit_equal(
    gmat_with: Callable[..., Path], tmp_path: Path, point: str
) -> None:
    gmat_with(run_cost_s=0.05)
    out = tmp_path / "killed"
    _killed_driver(out, tmp_path, _KILL_AT[point])
    before = Manifest.load(out)
    committed = {r for r in range(len(SMAS)) if before.status_of(r) == "ok"}
    assert 2 <= len(committed) < len(SMAS)  # the kill landed mid-sweep, after two groups
    if point == "after-the-commit-line":
        assert before.status_counts()["ok"] == len(committed)

    with LocalPool(2) as pool:
        resumed = Sweep.from_manifest(out, backend=pool, progress=False).resume()
        reference = sweep(SCRIPT, grid={"Sat.SMA": SMAS}, backend=pool, out=tmp_path / "ref")
    assert_frame_equal(resumed, reference, check_exact=True)
    assert not resumed.index.duplicated().any()
    after = Manifest.load(out)
    assert all(after.attempts_of(r) == 1 for r in committed)  # nothing committed ran again
    live = set(after.parts["report__OrbitReport"])
    on_disk = {p.relative_to(out).as_posix() for p in (out / "data").rglob("*") if p.is_file()}
    assert on_disk == live  # the orphaned part of the killed group was removed
    text = (out / MANIFEST_NAME).read_text()
    assert text.endswith("\n") and "\n\n" not in text


def test_a_full_disk_stops_the_sweep_clearly_and_resume_completes_it(
    gmat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gmat_sweep.dataset as dataset

    real = dataset.write_part
    calls: list[int] = []

    def full_disk(*args: object, **kwargs: object) -> str:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dataset, "write_part", full_disk)
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    out = tmp_path / "full"
    with LocalPool(2) as pool:
        with pytest.raises(OutputDirError, match=r"No space left on device.*resume") as info:
            sweep(SCRIPT, grid={"Sat.SMA": SMAS}, backend=pool, out=out)
        assert "committed before is safe" in str(info.value)
        first = Manifest.load(out)
        committed = [r for r in range(len(SMAS)) if first.status_of(r) == "ok"]
        assert committed and len(committed) < len(SMAS)
        assert not list((out / "data").rglob("*.tmp"))  # no half-written part left behind
        monkeypatch.setattr(dataset, "write_part", real)
        resumed = Sweep.from_manifest(out, backend=pool, progress=False).resume()
        reference = sweep(SCRIPT, grid={"Sat.SMA": SMAS}, backend=pool, out=tmp_path / "ref")
    assert_frame_equal(resumed, reference, check_exact=True)


def test_groups_wait_for_their_window_and_merge_into_one_part(
    gmat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Window 0: one group per wake-up; at the session's end the small parts are merged
    into one file whose rows are the same, in the same order."""
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    out = tmp_path / "o"
    with LocalPool(2) as pool:
        frame = sweep(SCRIPT, grid={"Sat.SMA": SMAS}, backend=pool, out=out)
    manifest = Manifest.load(out)
    kinds = [r["kind"] for r in manifest.records()]
    assert kinds.count("commit") >= 3 and kinds[-1] == "compact"
    assert len(manifest.parts["report__OrbitReport"]) == 1
    assert len(list((out / "data").rglob("*.parquet"))) == 1
    assert frame.index.get_level_values("run_id").unique().tolist() == list(range(len(SMAS)))


def test_a_bad_commit_window_is_refused_with_the_variable_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gmat_sweep.errors import SweepConfigError

    manifest = Manifest.create(tmp_path, {"n_runs": 1})
    for bad in ("soon", "-1", "inf", "nan"):
        monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", bad)
        with pytest.raises(SweepConfigError, match=f"GMAT_SWEEP_COMMIT_WINDOW_S='{bad}'"):
            GroupCommitter(tmp_path, manifest)
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0.5")
    assert GroupCommitter(tmp_path, manifest).window_s == 0.5


def test_ctrl_c_right_after_a_group_is_written_does_not_commit_it_twice(
    gmat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interruption lands after a group's manifest write returned: the flush that
    follows it (the driver keeps what finished) must not write that group again."""
    monkeypatch.setenv("GMAT_SWEEP_COMMIT_WINDOW_S", "0")
    real = Manifest.commit
    calls: list[int] = []

    def commit(self: Manifest, runs: object, parts: object) -> None:
        real(self, runs, parts)  # type: ignore[arg-type]
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Manifest, "commit", commit)
    out = tmp_path / "o"
    with LocalPool(2) as pool, pytest.raises(KeyboardInterrupt):
        sweep(SCRIPT, grid={"Sat.SMA": SMAS}, backend=pool, out=out, progress=False)
    monkeypatch.setattr(Manifest, "commit", real)
    manifest = Manifest.load(out)
    ids = [int(line["run_id"]) for line in manifest.run_entries()]
    assert ids and len(ids) == len(set(ids)), f"a run committed twice: {sorted(ids)}"
    assert all(manifest.attempts_of(r) == 1 for r in ids)
    with LocalPool(2) as pool:
        resumed = Sweep.from_manifest(out, backend=pool, progress=False).resume()
        full = sweep(SCRIPT, grid={"Sat.SMA": SMAS}, backend=pool, out=tmp_path / "f",
                     progress=False)  # fmt: skip
    assert_frame_equal(resumed, full, check_exact=True)


def test_runs_whose_channels_gmat_run_typed_alike_or_not_share_one_float_schema() -> None:
    import pyarrow as pa

    from gmat_sweep.dataset import assemble

    whole = pa.table({"Step": pa.array([1, 2], pa.int64()), "X": [0.5, 1.5]})
    fractional = pa.table({"Step": pa.array([2.5], pa.float64()), "X": [2.0]})
    alike = assemble([whole, whole], [3, 4], [1, 1])
    mixed = assemble([whole, fractional, whole], [0, 1, 2], [1, 2, 1])
    for table in (alike, mixed):
        assert table.schema.field("Step").type == pa.float64()
        assert table.column_names == ["run_id", "attempt", "Step", "X"]
    assert alike.column("run_id").to_pylist() == [3, 3, 4, 4]
    assert alike.column("Step").to_pylist() == [1.0, 2.0, 1.0, 2.0]
    assert mixed.column("Step").to_pylist() == [1.0, 2.0, 2.5, 1.0, 2.0]
    assert mixed.column("attempt").to_pylist() == [1, 1, 2, 1, 1]
