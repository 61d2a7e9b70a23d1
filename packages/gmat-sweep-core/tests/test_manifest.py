"""The manifest: durable appends, torn-last-line tolerance, corruption errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gmat_sweep.errors import ManifestCorruptError, ManifestExistsError, OutputDirError
from gmat_sweep.manifest import MANIFEST_NAME, SCHEMA_VERSION, Manifest


def _run(run_id: int, status: str = "ok", attempt: int = 1) -> dict[str, object]:
    return {"kind": "run", "run_id": run_id, "attempt": attempt, "status": status, "outputs": {}}


def _lines(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (tmp_path / MANIFEST_NAME).read_text().splitlines()]


def _statuses(m: Manifest) -> dict[int, str | None]:
    return {r: m.status_of(r) for r in range(m.n_runs) if m.status_of(r) is not None}


def test_create_writes_a_sorted_header_and_refuses_a_second_sweep(tmp_path: Path) -> None:
    Manifest.create(tmp_path, {"n_runs": 3, "sweep_id": "abc"})
    line = (tmp_path / MANIFEST_NAME).read_text().splitlines()[0]
    header = json.loads(line)
    assert header["kind"] == "header" and header["schema_version"] == SCHEMA_VERSION == 2
    assert list(header) == sorted(header)
    with pytest.raises(ManifestExistsError, match="already holds a sweep.*resume"):
        Manifest.create(tmp_path, {"n_runs": 3})
    Manifest.create(tmp_path, {"n_runs": 5}, overwrite=True)
    assert Manifest.load(tmp_path).n_runs == 5


def test_groups_survive_reload_and_the_latest_attempt_wins(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 3})
    m.commit([_run(0), _run(1, "lost")], {"report__R": "data/report__R/part-a.parquet"})
    m.commit(
        [_run(1, "ok", attempt=2), _run(2, "failed")],
        {"report__R": "data/report__R/part-b.parquet"},
    )
    m.close()
    assert _lines(tmp_path)[3] == {
        "kind": "commit",
        "ids": [0, 1],
        "statuses": ["ok", "lost"],
        "parts": {"report__R": "data/report__R/part-a.parquet"},
        "runs": 2,
    }
    again = Manifest.load(tmp_path)
    assert _statuses(again) == {0: "ok", 1: "ok", 2: "failed"}
    assert [again.attempts_of(r) for r in range(3)] == [1, 2, 1]
    assert list(again.pending()) == [2]
    assert again.status_counts() == {"ok": 2, "failed": 1}
    assert again.parts == {
        "report__R": ["data/report__R/part-a.parquet", "data/report__R/part-b.parquet"]
    }
    assert [r["run_id"] for r in again.run_entries()] == [0, 1, 1, 2]


def test_run_lines_go_through_commit_only(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 1})
    with pytest.raises(ValueError, match="commit"):
        m.append(_run(0))


def _write_group_then(tmp_path: Path, tail: str) -> Manifest:
    """A manifest with one committed group (run 0), then ``tail`` as a killed driver left it."""
    m = Manifest.create(tmp_path, {"n_runs": 3})
    m.commit([_run(0)], {})
    m.close()
    with open(tmp_path / MANIFEST_NAME, "a") as fh:
        fh.write(tail)
    return Manifest.load(tmp_path)


RUN1 = json.dumps(_run(1), sort_keys=True)
COMMIT1 = json.dumps(
    {"kind": "commit", "parts": {}, "runs": 1, "ids": [1], "statuses": ["ok"]}, sort_keys=True
)


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(RUN1[:20], id="torn-run-line"),
        pytest.param(RUN1, id="complete-run-line-without-newline"),
        pytest.param(RUN1 + "\n", id="group-without-its-commit-line"),
        pytest.param(RUN1 + "\n" + COMMIT1[:15], id="torn-commit-line"),
        pytest.param(RUN1 + "\n" + COMMIT1, id="complete-commit-line-without-newline"),
        pytest.param("{", id="one-brace"),
    ],
)
def test_a_damaged_end_never_counts_and_reader_and_writer_agree(tmp_path: Path, tail: str) -> None:
    """A record counts only with its newline, and run lines only with their group's commit
    line: every shape a killed driver can leave is not counted when read, is cut before the
    next append, and what was read is exactly what is on disk afterwards."""
    m = _write_group_then(tmp_path, tail)
    assert _statuses(m) == {0: "ok"} and list(m.pending()) == [1, 2]
    m.commit([_run(2)], {})
    m.close()
    again = Manifest.load(tmp_path)
    assert _statuses(again) == {0: "ok", 2: "ok"} and list(again.pending()) == [1]
    raw = (tmp_path / MANIFEST_NAME).read_text()
    assert raw.endswith("\n") and all(json.loads(x) for x in raw.splitlines())
    assert [x["kind"] for x in _lines(tmp_path)] == ["header", "run", "commit", "run", "commit"]


def test_a_bad_line_in_the_middle_is_corruption_naming_the_line(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 3})
    m.commit([_run(0), _run(1)], {})
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


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"kind": "run", "run_id": 0}', "line 2, is a run line without"),
        ('{"kind": "commit", "runs": 0}', "line 2, is a commit line without"),
        ('{"attempt": 1, "run_id": 0, "sta\n', "line 2, is a run line cut short"),
        ('["run", 0]', "line 2, is not a JSON object"),
        ('{"kind": "header", "schema_version": 2}', "line 2, is a second header"),
        (
            '{"kind": "commit", "runs": 3, "ids": [], "statuses": [], "parts": {}}',
            "line 2, closes a group of 3 runs",
        ),
    ],
)
def test_a_line_without_what_its_kind_needs_is_corruption(
    tmp_path: Path, line: str, match: str
) -> None:
    Manifest.create(tmp_path, {"n_runs": 1}).close()
    with open(tmp_path / MANIFEST_NAME, "a") as fh:
        fh.write(line + "\n")
    with pytest.raises(ManifestCorruptError, match=match) as info:
        Manifest.load(tmp_path)
    assert info.value.line_number == 2


def test_an_empty_file_or_a_missing_header_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST_NAME
    path.write_text("")
    with pytest.raises(ManifestCorruptError, match="no complete header line"):
        Manifest.load(tmp_path)
    path.write_text(json.dumps(_run(0)) + "\n")
    with pytest.raises(ManifestCorruptError, match="line 1, is not a gmat-sweep manifest header"):
        Manifest.load(tmp_path)


def test_a_version_1_manifest_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text(
        json.dumps({"kind": "header", "schema_version": 1}) + "\n"
    )
    with pytest.raises(ManifestCorruptError, match="schema_version 1.*no longer reads"):
        Manifest.load(tmp_path)


def test_a_compact_line_replaces_parts(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 3})
    for r, name in enumerate("abc"):
        m.commit([_run(r)], {"report__R": f"data/report__R/part-{name}.parquet"})
    m.append(
        {
            "kind": "compact",
            "key": "report__R",
            "part": "data/report__R/part-m.parquet",
            "replaces": ["data/report__R/part-a.parquet", "data/report__R/part-b.parquet"],
        }
    )
    m.close()
    assert Manifest.load(tmp_path).parts == {
        "report__R": ["data/report__R/part-c.parquet", "data/report__R/part-m.parquet"]
    }


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
    assert list(Manifest.load(tmp_path).pending()) == [0, 1, 2, 3, 4]


def test_run_lines_are_checked_against_their_commit_line_when_read(tmp_path: Path) -> None:
    m = Manifest.create(tmp_path, {"n_runs": 2})
    m.commit([_run(0), _run(1, "failed")], {})
    m.close()
    path = tmp_path / MANIFEST_NAME
    path.write_text(path.read_text().replace('"status":"failed"', '"status":"ok"'))
    assert Manifest.load(tmp_path).status_of(1) == "failed"  # the commit line is the index
    with pytest.raises(ManifestCorruptError, match="line 4, says run 1 ended failed"):
        list(Manifest.load(tmp_path).run_entries())
