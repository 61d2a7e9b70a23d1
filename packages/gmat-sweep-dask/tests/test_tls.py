"""TLS on real Dask clusters: the private LocalCluster (in-process by default, TLS when
asked), a CLI cluster with certificates by address (also from the command line), and
clients without the certificate refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from distributed import Client

from gmat_sweep import LocalPool, Sweep
from gmat_sweep.cli import main
from gmat_sweep.designs import Grid
from gmat_sweep.testing import assert_sweeps_equal, kit_gmat_root, kit_script, manifest_lines
from gmat_sweep_dask import DaskPool
from gmat_sweep_dask.testing import DaskCliCluster, write_test_certificates

GRID = Grid({"Sat.SMA": [6950.0 + 50.0 * i for i in range(6)]})


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls-ref") / "local"
    with pytest.MonkeyPatch.context() as patch, LocalPool(2) as pool:
        patch.setenv("GMAT_ROOT", str(kit_gmat_root()))
        Sweep(kit_script(), GRID, out=out, backend=pool, progress=False).run()
    return out


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> DaskCliCluster:
    workdir = tmp_path_factory.mktemp("dask-tls")
    write_test_certificates(workdir / "certs")
    with DaskCliCluster.started(workdir, kit_gmat_root(), tls=workdir / "certs") as cluster:
        yield cluster  # type: ignore[misc]


def _refused(address: str, security: object = None) -> None:
    with pytest.raises(Exception), Client(address, timeout=5, security=security):  # noqa: B017
        pass  # pragma: no cover - connecting must fail


def test_the_private_threaded_localcluster_takes_no_connections_from_other_processes(
    tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Threads (the default) talk through Dask's in-process transport: the only ports the
    # cluster opens are its HTTP status pages, none speaks Dask's protocol.
    import psutil

    monkeypatch.setenv("GMAT_ROOT", str(kit_gmat_root()))
    me = psutil.Process()

    def listening() -> set[int]:
        return {c.laddr.port for c in me.net_connections(kind="inet") if c.status == "LISTEN"}

    before = listening()
    with DaskPool(n_workers=2) as pool:
        assert str(pool.client.scheduler.address).startswith("inproc://127.0.0.1/")
        assert pool.options()["protocol"] == "inproc"
        assert pool.options()["tls"] is False
        cluster = pool.cluster
        status_pages = {cluster.scheduler.http_server.port} | {
            worker.http_server.port for worker in cluster.workers.values()
        }
        assert listening() - before == status_pages
        Sweep(kit_script(), GRID, out=tmp_path / "out", backend=pool, progress=False).run()
    [session] = manifest_lines(tmp_path / "out", "session")
    assert session["backend"]["options"]["protocol"] == "inproc"
    assert_sweeps_equal(tmp_path / "out", reference)


def test_security_true_gives_threads_tls_and_refuses_a_client_without_its_certificate(
    tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(kit_gmat_root()))
    with DaskPool(n_workers=2, security=True) as pool:
        address = str(pool.client.scheduler.address)
        assert address.startswith("tls://127.0.0.1:"), address
        assert pool.options()["tls"] is True
        _refused(address)  # Dask's default (no certificates)
        _refused(address.replace("tls://", "tcp://"))  # plain TCP to the TLS port
        Sweep(kit_script(), GRID, out=tmp_path / "out", backend=pool, progress=False).run()
    assert_sweeps_equal(tmp_path / "out", reference)


def test_security_false_is_plain_tcp() -> None:
    with DaskPool(n_workers=1, security=False) as pool:
        assert str(pool.client.scheduler.address).startswith("tcp://127.0.0.1:")
    assert pool.options()["tls"] is False  # still answers once closed


def test_a_tls_cluster_by_address_runs_the_sweep_bit_equal(
    tls_cluster: DaskCliCluster, tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(kit_gmat_root()))
    assert tls_cluster.address.startswith("tls://")
    with DaskPool(address=tls_cluster.address, security=tls_cluster.security) as pool:
        assert pool.options()["tls"] is True
        Sweep(kit_script(), GRID, out=tmp_path / "out", backend=pool, progress=False).run()
    assert_sweeps_equal(tmp_path / "out", reference)


def test_a_client_without_the_certificate_is_refused_and_nothing_is_written(
    tls_cluster: DaskCliCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(kit_gmat_root()))
    other = write_test_certificates(tmp_path / "other-ca")  # signed by another CA
    _refused(tls_cluster.address, other)
    _refused(tls_cluster.address)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["run", str(kit_script()), "--grid", "Sat.SMA=7000:7100:2", "--backend", "dask",
         "--backend-opt", f"address={tls_cluster.address}", "--out", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "speaks TLS, and this driver has no certificate" in result.output, result.output
    assert not out.exists()


def test_the_cli_passes_the_certificates_as_json(
    tls_cluster: DaskCliCluster, tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_ROOT", str(kit_gmat_root()))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["run", str(kit_script()), "--grid", "Sat.SMA=6950:7200:6", "--backend", "dask",
         "--backend-opt", f"address={tls_cluster.address}",
         "--backend-opt", f"security={json.dumps(tls_cluster.security)}",
         "--out", str(out), "--no-progress"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [session] = manifest_lines(out, "session")
    assert session["backend"]["options"]["tls"] is True
    assert "key.pem" not in json.dumps(session)  # certificate paths are not recorded


def test_security_true_for_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="throwaway certificates for a LocalCluster"):
        DaskPool(address="tls://127.0.0.1:1", security=True)
