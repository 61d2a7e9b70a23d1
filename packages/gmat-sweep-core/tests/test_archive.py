"""``gmat-sweep archive``: the round trip of a sweep through one zip file.

A sweep with a failed run is archived, unzipped elsewhere, read there (``show``,
``load_results``, equal to the original) and resumed there to completion; the bundle's
checksums verify (with ``sha256sum -c`` too); a sweep being run, an existing bundle and
a write that fails midway leave nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from pandas.testing import assert_frame_equal

from gmat_sweep import LocalPool, Sweep, load_results, sweep
from gmat_sweep import archive as archive_module
from gmat_sweep.archive import CHECKSUMS, archive, verify
from gmat_sweep.cli import main
from gmat_sweep.errors import ArchiveError, SweepLockedError
from gmat_sweep.lock import SweepLock
from gmat_sweep.manifest import Manifest
from gmat_sweep.testing import FakeGmatRule, kit_script, make_fake_gmat_install

SCRIPT = kit_script()
FAILING_SMA = 7100.0


@pytest.fixture
def failed_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 3-run grid whose SMA 7100 run failed (left with GMAT_ROOT at a healthy GMAT)."""
    if os.environ.get("GMAT_ROOT"):
        pytest.skip("needs the stand-in GMAT's failure knob")
    rules = [FakeGmatRule(when={"Sat.SMA": FAILING_SMA}, action="fail")]
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "bad", rules=rules)))
    out = tmp_path / "sweep"
    with LocalPool(2) as pool, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "2/3 ok, 1 failed ..."
        sweep(
            SCRIPT,
            grid={"Sat.SMA": [7000.0, FAILING_SMA, 7200.0]},
            out=out,
            backend=pool,
            lazy=True,
        )
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "good")))
    return out


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_round_trip_show_results_and_resume_elsewhere(failed_sweep: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    code, output = _cli("archive", str(failed_sweep), str(bundle), "--logs")
    assert code == 0, output
    assert f"wrote {bundle}" in output and "SHA256SUMS" in output
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
    manifest = Manifest.load(failed_sweep)
    parts = {p for files in manifest.parts.values() for p in files}
    assert names == {
        "manifest.jsonl",
        "script/kit_orbit.script",
        CHECKSUMS,
        *parts,
        "logs/000001-attempt1.log",
    }
    assert verify(bundle) == len(names) - 1

    copy = tmp_path / "elsewhere" / "copy"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(copy)
    if shutil.which("sha256sum"):
        done = subprocess.run(
            ["sha256sum", "-c", CHECKSUMS], cwd=copy, capture_output=True, text=True
        )
        assert done.returncode == 0 and done.stdout.count(": OK") == len(names) - 1, done.stdout

    code, shown = _cli("show", str(copy))
    assert code == 0 and "2 ok" in shown and "1 failed" in shown, shown
    code, failed = _cli("show", str(copy), "--failed")
    assert code == 0 and "injected failure" in failed and str(copy / "logs") in failed
    assert_frame_equal(load_results(copy), load_results(failed_sweep), check_exact=True)

    with LocalPool(2) as pool:
        resumed = Sweep.from_manifest(copy, backend=pool).resume()
    assert (resumed["__status"] == "ok").all()
    assert Manifest.load(copy).status_counts() == {"ok": 3}
    assert Manifest.load(failed_sweep).status_counts() == {"ok": 2, "failed": 1}  # untouched


def test_logs_only_when_asked_and_never_orphans(failed_sweep: Path, tmp_path: Path) -> None:
    key = next(iter(Manifest.load(failed_sweep).parts))
    orphan = failed_sweep / "data" / key / "part-00000000deadbeef.parquet"
    orphan.write_bytes(b"rows of a group that was never committed")
    (failed_sweep / "report.html").write_text("<html></html>")
    made = archive(failed_sweep, tmp_path / "plain.zip")
    with zipfile.ZipFile(made.path) as zf:
        names = zf.namelist()
    assert not any(n.startswith("logs/") for n in names)
    assert orphan.name not in " ".join(names) and "report.html" not in names
    assert made.files == len(names) - 1 and made.size > 0


def test_refuses_a_sweep_being_run_and_an_existing_bundle(
    failed_sweep: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.zip"
    with SweepLock(failed_sweep, what="resume"):
        with pytest.raises(SweepLockedError, match="cannot archive it now"):
            archive(failed_sweep, bundle)
        code, output = _cli("archive", str(failed_sweep), str(bundle))
        assert code == 2 and "in use by another gmat-sweep driver" in output
    assert not bundle.exists() and not list(tmp_path.glob("*.partial"))
    bundle.write_bytes(b"someone's file")
    code, output = _cli("archive", str(failed_sweep), str(bundle))
    assert code == 2 and "exists already" in output
    assert bundle.read_bytes() == b"someone's file"
    code, output = _cli("archive", str(tmp_path / "nothing"), str(tmp_path / "x.zip"))
    assert code == 2 and "manifest.jsonl not found" in output


def test_a_write_that_fails_midway_leaves_no_zip(
    failed_sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = archive_module._write_zip

    def full_disk(partial: Path, out: Path, members: list[str]) -> int:
        real(partial, out, members[:1])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archive_module, "_write_zip", full_disk)
    with pytest.raises(ArchiveError, match="No space left on device"):
        archive(failed_sweep, tmp_path / "bundle.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good", "sweep"]
    assert not (failed_sweep / ".gmat-sweep.lock").exists()  # the lock was given back


def test_verify_names_a_tampered_member(failed_sweep: Path, tmp_path: Path) -> None:
    bundle = archive(failed_sweep, tmp_path / "bundle.zip").path
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "manifest.jsonl":
                data = data.replace(b'"failed"', b'"ok"    ', 1)
            dst.writestr(info, data)
    with pytest.raises(ArchiveError, match="manifest.jsonl does not match"):
        verify(tampered)
