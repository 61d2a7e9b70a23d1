"""SlurmPool speaks TLS by default, in both modes, on a real single-node Slurm."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gmat_sweep import LocalPool, Sweep
from gmat_sweep.manifest import MANIFEST_NAME
from gmat_sweep.testing import assert_sweeps_equal, kit_script, make_fake_gmat_install, wait_until
from gmat_sweep.testing.suites import reference_design
from gmat_sweep_slurm import SlurmPool
from gmat_sweep_slurm.testing import squeue_jobs

from .conftest import jobs_options, run_driver_job

SCRIPT = kit_script()


def _refused_without_certificates(address: str) -> str:
    """What a client with no certificate meets at ``address`` (in a fresh process)."""
    code = (
        "import sys\n"
        "from distributed import Client\n"
        "try:\n"
        "    Client(sys.argv[1], timeout=5).close()\n"
        "except Exception as exc:\n"
        "    print('refused:', type(exc).__name__)\n"
        "else:\n"
        "    print('connected')\n"
    )
    plain = "tcp://" + address.split("://", 1)[1]
    lines = []
    for target in (address, plain):
        result = subprocess.run(
            [sys.executable, "-c", code, target], capture_output=True, text=True, timeout=60
        )
        lines.append(result.stdout.strip())
    return " / ".join(lines)


def test_jobs_mode_speaks_tls_with_certificates_only_the_user_can_read(
    slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "GMAT")))
    shared = tmp_path / "shared"
    shared.mkdir()
    options = {**jobs_options(), "shared_temp_directory": str(shared)}
    out = tmp_path / "o"
    with SlurmPool(**options) as pool:  # type: ignore[arg-type]
        address = str(pool.client.scheduler.address)
        assert address.startswith("tls://"), address
        folders = list(shared.glob(".gmat-sweep-tls-*"))
        assert len(folders) == 1, folders
        assert stat.S_IMODE(folders[0].stat().st_mode) == 0o700
        files = sorted(folders[0].iterdir())
        assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
        assert any("PRIVATE KEY" in f.read_text() for f in files)
        # The worker jobs' script names the files by path; it holds no key itself.
        job_script = pool.cluster.job_script()
        assert "--tls-key" in job_script and "PRIVATE KEY" not in job_script
        Sweep(SCRIPT, reference_design("grid"), out=out, backend=pool, progress=False).run()
        refusal = _refused_without_certificates(address)
        assert refusal.startswith("refused:") and "/ refused:" in refusal, refusal
        assert pool.options()["tls"] is True
    assert not list(shared.glob(".gmat-sweep-tls-*")), "the certificates outlived the pool"
    assert wait_until(lambda: not squeue_jobs("dask-worker"), timeout=60), squeue_jobs()
    with LocalPool(2) as local:
        Sweep(SCRIPT, reference_design("grid"), out=tmp_path / "ref", backend=local,
              progress=False).run()  # fmt: skip
    assert_sweeps_equal(out, tmp_path / "ref")
    session = next(
        json.loads(line)
        for line in (out / MANIFEST_NAME).read_text().splitlines()
        if '"kind":"session"' in line
    )
    assert session["backend"]["options"]["tls"] is True


def test_jobs_mode_plain_tcp_only_when_asked(
    slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(make_fake_gmat_install(tmp_path / "GMAT")))
    monkeypatch.chdir(tmp_path)
    with SlurmPool(**{**jobs_options(), "n_workers": 1, "security": False}) as pool:  # type: ignore[arg-type]
        assert str(pool.client.scheduler.address).startswith("tcp://")
        assert pool.options()["tls"] is False
    assert not list(tmp_path.glob(".gmat-sweep-tls-*"))


def test_a_security_without_worker_certificates_is_refused_before_any_job() -> None:
    with pytest.raises(ValueError, match="has no tls_ca_file, tls_worker_cert, tls_worker_key"):
        SlurmPool(mode="jobs", security={"require_encryption": True})
    with pytest.raises(ValueError, match="security= takes True"):
        SlurmPool(mode="jobs", security="yes")


def test_allocation_mode_speaks_tls_and_keeps_keys_off_command_lines(
    slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gmat = make_fake_gmat_install(tmp_path / "GMAT")
    monkeypatch.setenv("GMAT_ROOT", str(gmat))
    out = tmp_path / "in-allocation"
    report = tmp_path / "tls.json"
    _job, log = run_driver_job(
        tmp_path,
        textwrap.dedent(f"""
        import json, subprocess
        from gmat_sweep import Sweep
        from gmat_sweep.testing import kit_script
        from gmat_sweep.testing.suites import reference_design
        from gmat_sweep_slurm import SlurmPool
        with SlurmPool.auto(interface="lo") as pool:
            pool.client.wait_for_workers(2, timeout=60)
            workers = list(pool.client.scheduler_info()["workers"])
            Sweep(kit_script(), reference_design("grid"), out={str(out)!r}, backend=pool,
                  progress=False).run()
            argv = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            with open({str(report)!r}, "w") as f:
                json.dump({{"scheduler": str(pool.client.scheduler.address),
                           "workers": workers, "srun": pool.options()["srun"],
                           "key_on_a_command_line": "PRIVATE KEY" in argv}}, f)
        print("gmat-sweep driver finished", flush=True)
    """),
        gmat,
        ["--ntasks=2"],
    )
    assert "gmat-sweep driver finished" in log, log[-3000:]
    seen = json.loads(report.read_text())
    assert seen["scheduler"].startswith("tls://"), seen
    assert len(seen["workers"]) == 2 and all(w.startswith("tls://") for w in seen["workers"])
    assert "PRIVATE KEY" not in seen["srun"] and seen["key_on_a_command_line"] is False
    with LocalPool(2) as local:
        Sweep(SCRIPT, reference_design("grid"), out=tmp_path / "ref", backend=local,
              progress=False).run()  # fmt: skip
    assert_sweeps_equal(out, tmp_path / "ref")
