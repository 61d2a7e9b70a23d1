"""The manifest: durable appends, torn-last-line tolerance, corruption errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gmat_sweep.errors import ManifestCorruptError, ManifestExistsError, OutputDirError
from gmat_sweep.manifest import MANIFEST_NAME, Manifest


def _run(run_id: int, status: str = "ok", attempt: int = 1) -> dict[str, object]:
    return {"kind": "run", "run_id": run_id, "attempt": attempt, "status": status, "outputs": {}}


def test_create_writes_a_sorted_header_and_refuses_a_second_sweep(tmp_path: Path) -> None:
    Manifest.create(tmp_path, {"n_runs": 3, "sweep_id": "abc"})
    line = (tmp_path / MANIFEST_NAME).read_text().splitlines()[0]
    header = json.loads(line)
    assert header["kind"] == "header" and header["schema_version"] == 1
    assert list(header) == sorted(header)
    with pytest.raises(ManifestExistsError, match="already holds a sweep.*resume"):
        Manifest.create(tmp_path, {"n_runs": 3})
    Manifest.create(tmp_path, {"n_runs": 5}, overwrite=True)
    assert Manifest.load(tmp_path).n_runs == 5


def test_appends_survive_reload_and_latest_attempt_wins(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 3})
    m.append(_run(0))
    m.append(_run(1, "lost"))
    m.append(_run(1, "ok", attempt=2))
    m.append(_run(2, "failed"))
    m.close()
    again = Manifest.load(tmp_path)
    assert {r: rec.status for r, rec in again.runs.items()} == {0: "ok", 1: "ok", 2: "failed"}
    assert again.runs[1].attempts == 2
    assert again.pending() == [2]


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 2})
    m.append(_run(0))
    m.close()
    path = tmp_path / MANIFEST_NAME
    with open(path, "a") as fh:
        fh.write('{"kind": "run", "run_id": 1, "sta')  # driver killed mid-write
    again = Manifest.load(tmp_path)
    assert set(again.runs) == {0}
    again.append(_run(1))
    again.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    assert all(json.loads(x) for x in lines)
    assert set(Manifest.load(tmp_path).runs) == {0, 1}


def test_a_bad_line_in_the_middle_is_corruption_naming_the_line(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 3})
    m.append(_run(0))
    m.append(_run(1))
    m.close()
    path = tmp_path / MANIFEST_NAME
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = '{"kind": "run", "run_id": 0, GARBAGE\n'
    path.write_text("".join(lines))
    with pytest.raises(ManifestCorruptError, match="line 2") as info:
        Manifest.load(tmp_path)
    assert info.value.line_number == 2


def test_a_complete_but_unparseable_last_line_is_corruption(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 1})
    m.close()
    with open(tmp_path / MANIFEST_NAME, "a") as fh:
        fh.write("not json\n")
    with pytest.raises(ManifestCorruptError, match="line 2"):
        Manifest.load(tmp_path)


def test_newer_schema_is_refused_with_upgrade_advice(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text(
        json.dumps({"kind": "header", "schema_version": 99}) + "\n"
    )
    with pytest.raises(ManifestCorruptError, match="Upgrade gmat-sweep-core"):
        Manifest.load(tmp_path)


def test_missing_manifest_says_what_a_sweep_directory_holds(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="manifest.jsonl not found"):
        Manifest.load(tmp_path)


def test_unwritable_out_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputDirError, match="cannot write"):
        Manifest.create(blocker / "sub", {"n_runs": 1})


def test_extend_records_raise_the_run_count(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 2})
    m.append({"kind": "extend", "n_runs": 5})
    m.close()
    assert Manifest.load(tmp_path).pending() == [0, 1, 2, 3, 4]
