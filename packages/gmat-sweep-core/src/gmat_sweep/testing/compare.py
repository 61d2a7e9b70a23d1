"""Comparing two sweeps the way the determinism contract does (DESIGN section 8).

Two sweeps of the same design must give ``check_exact=True``-equal DataFrames and
equal manifests once what legitimately differs is removed: timings, worker
fingerprints, the backend (session lines), the sweep id and creation time. Run
lines are compared in run order, so completion order does not matter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gmat_sweep.manifest import Manifest

__all__ = ["assert_sweeps_equal", "comparable_manifest", "manifest_lines"]

_VOLATILE_HEADER = ("sweep_id", "created_at")
_VOLATILE_RUN = ("started_at", "ended_at", "duration_s", "fingerprint")


def manifest_lines(out: str | Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The manifest's committed lines so far, header first (``[]`` before it exists),
    optionally only those of one ``kind`` (``"run"``, ``"session"``...). Safe on a sweep
    still running: lines of a group not yet committed, or cut short, are not included."""
    path = Path(out)
    if not (path / "manifest.jsonl").exists():
        return []
    manifest = Manifest.load(path)
    lines = [manifest.header, *manifest.records()]
    return [line for line in lines if kind is None or line.get("kind") == kind]


def lost_batches(out: str | Path) -> list[list[int]]:
    """The runs of each batch the backend lost, as the manifest recorded them.

    The dispatcher records every run of a lost batch as ``lost`` with the batch's
    submission time as ``started_at``; runs sharing it (and an attempt) were one batch.
    """
    groups: dict[tuple[str, int], list[int]] = {}
    for line in manifest_lines(out, "run"):
        if line["status"] == "lost":
            key = (str(line["started_at"]), int(line["attempt"]))
            groups.setdefault(key, []).append(int(line["run_id"]))
    return [sorted(ids) for _, ids in sorted(groups.items())]


def comparable_manifest(out: str | Path) -> dict[str, Any]:
    """The parts of a sweep's manifest that must not depend on backend or timing.

    Returns ``{"header": ..., "runs": [...]}`` with the latest line of each run,
    sorted by run id.
    """
    manifest = Manifest.load(Path(out))
    header = {k: v for k, v in manifest.header.items() if k not in _VOLATILE_HEADER}
    runs = [
        {k: v for k, v in entry.items() if k not in _VOLATILE_RUN}
        for _, entry in sorted(manifest.latest_entries().items())
    ]
    return {"header": header, "runs": runs, "n_runs": manifest.n_runs}


def assert_sweeps_equal(candidate: str | Path, reference: str | Path) -> None:
    """Assert two sweep directories hold bit-equal results and equivalent manifests.

    Raises:
        AssertionError: naming the first difference (DataFrame or manifest field).
    """
    from pandas.testing import assert_frame_equal

    from gmat_sweep.results import Results

    cand, ref = comparable_manifest(candidate), comparable_manifest(reference)
    assert cand["header"] == ref["header"], _first_difference(cand["header"], ref["header"])
    assert cand["n_runs"] == ref["n_runs"], (
        f"run counts differ: {cand['n_runs']} vs {ref['n_runs']}"
    )
    by_id = {r["run_id"]: r for r in ref["runs"]}
    for run in cand["runs"]:
        other = by_id.get(run["run_id"])
        assert other is not None, f"run {run['run_id']} is only in the candidate"
        assert run == other, f"run {run['run_id']}: " + _first_difference(run, other)
    assert len(cand["runs"]) == len(ref["runs"]), (
        f"the candidate has {len(cand['runs'])} finished runs, the reference {len(ref['runs'])}"
    )
    assert_frame_equal(
        Results(candidate).to_pandas(), Results(reference).to_pandas(), check_exact=True
    )


def _first_difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            return f"{key!r} differs: candidate {a.get(key)!r} vs reference {b.get(key)!r}"
    return "no difference found"
