"""The DaskCluster spec for Kubernetes (no cluster here: the generated spec is the contract)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gmat_sweep_dask.kubernetes import sweep_cluster_spec


def _spec(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "image": "registry.example/gmat-sweep:1.4.2",
        "n_workers": 8,
        "pvc": "sweeps",
        "mount_path": "/sweeps",
        "cpu": "1",
        "memory": "3Gi",
    }
    args.update(overrides)
    return sweep_cluster_spec("sma-sweep", **args)


def _containers(spec: dict[str, Any], role: str) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = spec["spec"][role]["spec"]["containers"]
    return containers


def test_the_spec_is_a_daskcluster_with_the_requested_workers() -> None:
    spec = _spec()
    assert spec["apiVersion"] == "kubernetes.dask.org/v1" and spec["kind"] == "DaskCluster"
    assert spec["metadata"]["name"] == "sma-sweep"
    assert spec["spec"]["worker"]["replicas"] == 8
    worker = _containers(spec, "worker")[0]
    assert worker["resources"]["limits"] == {"cpu": "1", "memory": "3Gi"}
    assert worker["resources"]["requests"] == {"cpu": "1", "memory": "3Gi"}
    assert worker["args"][-2:] == ["--nthreads", "1"]


def test_one_claim_mounted_at_the_same_path_everywhere() -> None:
    spec = _spec()
    for role in ("scheduler", "worker"):
        pod = spec["spec"][role]["spec"]
        assert pod["volumes"] == [
            {"name": "gmat-sweep-data", "persistentVolumeClaim": {"claimName": "sweeps"}}
        ]
        for container in pod["containers"]:
            assert container["volumeMounts"] == [
                {"name": "gmat-sweep-data", "mountPath": "/sweeps"}
            ]
            assert container["imagePullPolicy"] == "IfNotPresent"
            assert container["image"] == "registry.example/gmat-sweep:1.4.2"
            env = {e["name"]: e["value"] for e in container["env"]}
            assert env["GMAT_ROOT"] == "/opt/gmat"
    scheduler_env = {e["name"]: e["value"] for e in _containers(spec, "scheduler")[0]["env"]}
    assert scheduler_env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] == "0"


@pytest.mark.parametrize(
    "image", ["registry.example/gmat-sweep", "registry.example/gmat-sweep:latest", "gmat:latest"]
)
def test_unpinned_images_are_refused(image: str) -> None:
    with pytest.raises(ValueError, match="is not pinned"):
        _spec(image=image)


def test_a_digest_or_a_registry_port_is_fine() -> None:
    ported = "registry.example:5000/gmat-sweep:2.0"
    assert _containers(_spec(image=ported), "worker")[0]["image"] == ported
    digest = "registry.example/gmat-sweep@sha256:" + "a" * 64
    assert _containers(_spec(image=digest), "worker")[0]["image"] == digest
    with pytest.raises(ValueError, match="is not pinned"):
        _spec(image="registry.example:5000/gmat-sweep")


def test_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="DNS label"):
        sweep_cluster_spec("SMA_Sweep", image="a:1", n_workers=1, pvc="p", mount_path="/s")
    with pytest.raises(ValueError, match="n_workers must be >= 1"):
        _spec(n_workers=0)
    with pytest.raises(ValueError, match="mount_path must be absolute"):
        _spec(mount_path="sweeps")


RECIPE = Path(__file__).resolve().parents[3] / "recipes" / "kubernetes" / "driver.py"


def test_the_recipe_driver_prints_the_spec_it_would_create() -> None:
    args = ["mission.script", "--out", "/sweeps/sma", "--image", "reg/gmat-sweep:1.0"]
    done = subprocess.run(
        [sys.executable, str(RECIPE), *args, "--pvc", "sweeps", "--workers", "4", "--dry-run"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    spec = json.loads(done.stdout)
    assert spec["spec"]["worker"]["replicas"] == 4
    outside = subprocess.run(
        [sys.executable, str(RECIPE), "m.script", "--out", "/tmp/x", "--image", "reg/g:1",
         "--pvc", "p", "--dry-run"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert outside.returncode == 2 and "must be under --mount" in outside.stderr
