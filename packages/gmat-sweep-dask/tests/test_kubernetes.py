"""Kubernetes: the generated DaskCluster and the recipe, checked offline against what runs them.

No Kubernetes API exists here, so the contract is checked against what would execute it:

- the DaskCluster against the CRD's openAPIV3Schema that dask-kubernetes ships (with
  unknown fields refused, since the API server would silently prune them), and its Pod
  and Service parts against the Kubernetes API schema (kubernetes-validate, strict);
- every container command against the installed distributed: the ``dask`` console
  script, its subcommand (the ``dask_cli`` entry points), and the spec's own flags parsed
  by that subcommand's parser;
- every YAML file of recipes/kubernetes against the Kubernetes API schema, and against
  each other (the names they share, the driver command's arguments);
- the recipe driver's decisions (claim, existing cluster, create mode), with fakes in
  place of the Kubernetes client.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from gmat_sweep_dask.kubernetes import MAX_NAME_LENGTH, sweep_cluster_spec

RECIPE = Path(__file__).resolve().parents[3] / "recipes" / "kubernetes"
K8S_VERSION = "1.37"
# Kubernetes' DNS-1035 label (a Service name), from k8s.io/apimachinery validation.
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _spec(**overrides: Any) -> dict[str, Any]:
    name = overrides.pop("name", "sma-sweep")
    args: dict[str, Any] = {
        "image": "registry.example/gmat-sweep:1.4.2",
        "n_workers": 8,
        "cpu": "1",
        "memory": "3Gi",
    }
    args.update(overrides)
    return sweep_cluster_spec(name, **args)


def _claimed(**overrides: Any) -> dict[str, Any]:
    return _spec(pvc="sweeps", mount_path="/sweeps", **overrides)


def _containers(spec: dict[str, Any], role: str) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = spec["spec"][role]["spec"]["containers"]
    return containers


# -- the DaskCluster against the CRD ------------------------------------------------------


def _crd_schema(kind_file: str, version: str) -> dict[str, Any]:
    crds = files("dask_kubernetes") / "operator/deployment/helm/dask-kubernetes-operator/crds"
    crd = yaml.safe_load((crds / kind_file).read_text())
    for served in crd["spec"]["versions"]:
        if served["name"] == version and served["served"]:
            schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
            return schema
    raise AssertionError(f"{kind_file} serves no version {version}")


def _closed(schema: Any) -> Any:
    """``schema`` with unknown fields refused wherever Kubernetes would prune them."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _closed(value) for key, value in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: _closed(v) for k, v in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            out["additionalProperties"] = False
    return out


def _check_against_crd(spec: dict[str, Any]) -> None:
    group, version = spec["apiVersion"].split("/")
    assert (group, spec["kind"]) == ("kubernetes.dask.org", "DaskCluster")
    schema = _crd_schema("daskcluster.yaml", version)
    jsonschema.Draft7Validator(schema).validate(spec)
    jsonschema.Draft7Validator(_closed(schema["properties"]["spec"])).validate(spec["spec"])


@pytest.mark.parametrize("claim", [False, True], ids=["no-claim", "claim"])
def test_the_spec_validates_against_the_daskcluster_crd(claim: bool) -> None:
    _check_against_crd(_claimed() if claim else _spec())


def test_the_crd_check_refuses_what_the_api_server_would_drop_or_reject() -> None:
    misspelled = _claimed()
    container = _containers(misspelled, "worker")[0]
    container["volumeMount"] = container.pop("volumeMounts")
    with pytest.raises(jsonschema.ValidationError, match="volumeMount"):
        _check_against_crd(misspelled)
    wrong_type = _spec()
    wrong_type["spec"]["idleTimeout"] = "600"
    with pytest.raises(jsonschema.ValidationError, match="integer"):
        _check_against_crd(wrong_type)


@pytest.mark.parametrize("claim", [False, True], ids=["no-claim", "claim"])
def test_its_pods_and_service_validate_against_the_kubernetes_api(claim: bool) -> None:
    spec = _claimed() if claim else _spec()
    for role in ("scheduler", "worker"):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"sma-sweep-{role}"}}
        kubernetes_validate.validate({**pod, "spec": spec["spec"][role]["spec"]}, K8S_VERSION, True)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "sma-sweep-scheduler"}}
    kubernetes_validate.validate(
        {**service, "spec": spec["spec"]["scheduler"]["service"]}, K8S_VERSION, True
    )


# -- the container commands against the installed distributed -----------------------------


def _subcommands() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group="dask_cli")}


@pytest.mark.parametrize("role", ["scheduler", "worker"])
def test_every_container_command_exists_in_the_installed_distributed(role: str) -> None:
    consoles = {ep.name: ep for ep in entry_points(group="console_scripts")}
    for container in _containers(_claimed(), role):
        assert "command" not in container  # args are the command line (image ENTRYPOINT aside)
        program, subcommand, *flags = container["args"]
        assert program in consoles, f"{program!r} is not a console script of this environment"
        assert consoles[program].value == "dask.__main__:main"
        assert subcommand == role and subcommand in _subcommands()
        # The subcommand's own parser takes every flag (an unknown one raises NoSuchOption).
        parsed = _subcommands()[subcommand].load().make_context(f"dask {role}", list(flags))
        assert parsed.params["preload_argv"] == ()
        if role == "worker":
            assert parsed.params["nthreads"] == 1
            assert parsed.params["scheduler"] is None  # DASK_SCHEDULER_ADDRESS, from the operator
        else:
            assert parsed.params["host"] == "0.0.0.0"


@pytest.mark.parametrize("role", ["scheduler", "worker"])
def test_the_dask_command_runs_the_subcommand_in_a_fresh_process(role: str) -> None:
    program, subcommand, *flags = _containers(_spec(), role)[0]["args"]
    done = subprocess.run(
        [sys.executable, "-m", program, subcommand, *flags, "--help"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"dask {subcommand} [OPTIONS]" in done.stdout


# -- what the spec holds ------------------------------------------------------------------


def test_the_spec_is_a_daskcluster_with_the_requested_workers() -> None:
    spec = _spec()
    assert spec["metadata"]["name"] == "sma-sweep"
    assert spec["spec"]["worker"]["replicas"] == 8
    worker = _containers(spec, "worker")[0]
    assert worker["resources"]["limits"] == {"cpu": "1", "memory": "3Gi"}
    assert worker["resources"]["requests"] == {"cpu": "1", "memory": "3Gi"}
    assert worker["args"][-2:] == ["--nthreads", "1"]
    for role in ("scheduler", "worker"):
        for container in _containers(spec, role):
            assert container["imagePullPolicy"] == "IfNotPresent"
            assert container["image"] == "registry.example/gmat-sweep:1.4.2"
            assert {e["name"]: e["value"] for e in container["env"]}["GMAT_ROOT"] == "/opt/gmat"
    scheduler_env = {e["name"]: e["value"] for e in _containers(spec, "scheduler")[0]["env"]}
    assert scheduler_env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] == "0"


def test_without_a_claim_no_pod_mounts_one() -> None:
    spec = _spec()
    for role in ("scheduler", "worker"):
        assert "volumes" not in spec["spec"][role]["spec"]
        assert all("volumeMounts" not in c for c in _containers(spec, role))


def test_a_claim_is_mounted_at_the_same_path_everywhere() -> None:
    spec = _claimed()
    for role in ("scheduler", "worker"):
        pod = spec["spec"][role]["spec"]
        assert pod["volumes"] == [
            {"name": "gmat-sweep-data", "persistentVolumeClaim": {"claimName": "sweeps"}}
        ]
        for container in pod["containers"]:
            assert container["volumeMounts"] == [
                {"name": "gmat-sweep-data", "mountPath": "/sweeps"}
            ]


def test_a_claim_needs_both_pvc_and_mount_path() -> None:
    with pytest.raises(ValueError, match="pvc was given without mount_path: pass both"):
        _spec(pvc="sweeps")
    with pytest.raises(ValueError, match="mount_path was given without pvc: pass both"):
        _spec(mount_path="/sweeps")
    with pytest.raises(ValueError, match="mount_path must be absolute"):
        _spec(pvc="sweeps", mount_path="sweeps")


def test_the_operator_deletes_an_idle_cluster() -> None:
    assert _spec()["spec"]["idleTimeout"] == 600
    assert _spec(idle_timeout=120)["spec"]["idleTimeout"] == 120
    assert _spec(idle_timeout=0)["spec"]["idleTimeout"] == 0  # disabled, on request
    with pytest.raises(ValueError, match="idle_timeout must be >= 0"):
        _spec(idle_timeout=-1)


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


def test_n_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="n_workers must be >= 1"):
        _spec(n_workers=0)


# -- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "sma-sweep", "sweep-2", "s" + "0" * (MAX_NAME_LENGTH - 1), "a-b-c"]
)
def test_good_names_give_valid_derived_names(name: str) -> None:
    from dask_kubernetes.operator.validation import validate_cluster_name

    spec = _spec(name=name)
    assert spec["metadata"]["name"] == name
    validate_cluster_name(name)  # what KubeCluster itself checks
    service = f"{name}-scheduler"
    assert DNS_1035_LABEL.match(service) and len(service) <= 63
    assert len(f"{name}-default") <= 63  # the worker group, also a label value


@pytest.mark.parametrize(
    "name",
    ["1abc", "a_b", "SMA", "sma.sweep", "-a", "a-", "", "s" + "0" * MAX_NAME_LENGTH, "a" * 63],
)
def test_names_that_break_the_scheduler_service_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="DNS-1035 label .* at most 53 characters"):
        _spec(name=name)


# -- the recipe's YAML --------------------------------------------------------------------


def _documents() -> list[tuple[str, dict[str, Any]]]:
    paths = sorted(RECIPE.glob("*.yaml")) + sorted(RECIPE.glob("*.yml"))
    docs = [(p.name, d) for p in paths for d in yaml.safe_load_all(p.read_text()) if d]
    assert {name for name, _ in docs} >= {"driver-pod.yaml", "pvc.yaml", "rbac.yaml"}
    return docs


def _kinds() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for _, doc in _documents()}


def test_every_recipe_yaml_validates_against_the_kubernetes_api() -> None:
    for filename, doc in _documents():
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{filename}: {doc['kind']}: {exc.message} at {list(exc.path)}")


def test_the_kubernetes_validator_is_not_vacuous() -> None:
    pod = copy.deepcopy(_kinds()["Pod"])
    pod["spec"]["containers"][0]["volumeMount"] = pod["spec"]["containers"][0].pop("volumeMounts")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, K8S_VERSION, True)


def test_the_role_grants_what_kubecluster_calls() -> None:
    kinds = _kinds()
    granted = {
        (resource, verb)
        for rule in kinds["Role"]["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    # KubeCluster(create_mode=CREATE_ONLY) and close(), plus driver.py --replace-cluster:
    needed = {
        ("daskclusters", "get"), ("daskclusters", "create"), ("daskclusters", "delete"),
        ("daskworkergroups", "get"), ("pods", "get"), ("pods", "list"), ("pods/log", "get"),
        ("services", "get"),
    }  # fmt: skip
    assert needed <= granted
    account = kinds["ServiceAccount"]["metadata"]["name"]
    binding = kinds["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
        "name": kinds["Role"]["metadata"]["name"],
    }  # fmt: skip
    assert {"kind": "ServiceAccount", "name": account} in binding["subjects"]
    assert kinds["Pod"]["spec"]["serviceAccountName"] == account


def test_the_driver_pod_runs_the_recipe_from_its_configmap_and_writes_to_its_claim() -> None:
    kinds, driver = _kinds(), _driver()
    pod = kinds["Pod"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = kinds["PersistentVolumeClaim"]["metadata"]["name"]
    assert volumes["out"]["persistentVolumeClaim"]["claimName"] == claim
    configmap = volumes["recipe"]["configMap"]["name"]
    readme = (RECIPE / "README.md").read_text()
    assert f"kubectl create configmap {configmap} --from-file=driver.py" in readme
    assert "--from-file=mission.script=" in readme
    python, script_path, *argv = container["command"]
    assert python == "python" and script_path == f"{mounts['recipe']}/driver.py"
    args = driver.parse_args(argv)
    assert args.script == f"{mounts['recipe']}/mission.script"
    assert args.out.startswith(mounts["out"] + "/")
    assert args.image == container["image"]
    _check_against_crd(driver.cluster_spec(args))


# -- the recipe's driver ------------------------------------------------------------------


def _driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gmat_sweep_k8s_driver", RECIPE / "driver.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BASE = ["m.script", "--out", "/anywhere/sma", "--image", "reg/gmat-sweep:1.0"]


def test_the_driver_writes_out_anywhere_and_mounts_no_claim_unless_asked() -> None:
    driver = _driver()
    spec = driver.cluster_spec(driver.parse_args(BASE))
    assert "volumes" not in spec["spec"]["worker"]["spec"]
    claimed = driver.cluster_spec(driver.parse_args([*BASE, "--pvc", "data", "--mount", "/d"]))
    assert claimed["spec"]["worker"]["spec"]["volumes"][0]["persistentVolumeClaim"] == {
        "claimName": "data"
    }


@pytest.mark.parametrize("half", [["--pvc", "data"], ["--mount", "/d"]])
def test_the_driver_wants_pvc_and_mount_together(
    half: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _driver().parse_args([*BASE, *half])
    assert exited.value.code == 2
    assert "--pvc and --mount go together" in capsys.readouterr().err


class _FakeCluster:
    def __init__(self, exists_for: int = 1) -> None:
        self.deleted = False
        self.polls = exists_for

    def delete(self) -> None:
        self.deleted = True

    def exists(self) -> bool:
        self.polls -= 1
        return self.polls >= 0


def _start(existing: _FakeCluster | None, replace: bool, **kw: Any) -> list[dict[str, Any]]:
    driver, created = _driver(), []
    spec = driver.cluster_spec(driver.parse_args([*BASE, "--name", "sma", "--idle-timeout", "90"]))
    driver.start_cluster(
        spec, replace=replace, namespace="ns", find=lambda name, ns: existing,
        kube_cluster=lambda **kwargs: created.append(kwargs), **kw,
    )  # fmt: skip
    return created


def test_the_driver_only_ever_creates_its_cluster() -> None:
    from dask_kubernetes.operator.kubecluster.kubecluster import CreateMode

    (made,) = _start(None, replace=False)
    assert made["create_mode"] is CreateMode.CREATE_ONLY
    assert made["namespace"] == "ns" and made["custom_cluster_spec"]["metadata"]["name"] == "sma"
    # left to KubeCluster: True for a cluster it created, so closing deletes it
    assert "shutdown_on_close" not in made


def test_an_existing_cluster_stops_the_driver_unless_replaced() -> None:
    leftover = _FakeCluster()
    with pytest.raises(SystemExit, match="'sma' already exists") as exited:
        _start(leftover, replace=False)
    assert "idleTimeout = 90 s" in str(exited.value.code)
    assert "--replace-cluster" in str(exited.value.code)
    assert not leftover.deleted
    (made,) = _start(leftover, replace=True)
    assert leftover.deleted and leftover.polls < 0  # waited until it was gone
    assert made["custom_cluster_spec"]["spec"]["idleTimeout"] == 90


def test_the_driver_prints_the_resources_it_would_create() -> None:
    done = subprocess.run(
        [sys.executable, str(RECIPE / "driver.py"), *BASE, "--workers", "4", "--dry-run"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["kind"] == "List"
    policy, spec = listing["items"]  # the policy first: no moment without it
    assert policy["kind"] == "NetworkPolicy"
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "dask.org/cluster-name": spec["metadata"]["name"]
    }
    kubernetes_validate.validate(policy, K8S_VERSION, True)
    assert spec["spec"]["worker"]["replicas"] == 4
    _check_against_crd(spec)
    unguarded = subprocess.run(
        [sys.executable, str(RECIPE / "driver.py"), *BASE, "--dry-run", "--no-network-policy"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert [item["kind"] for item in json.loads(unguarded.stdout)["items"]] == ["DaskCluster"]
    bad = subprocess.run(
        [sys.executable, str(RECIPE / "driver.py"), *BASE, "--name", "1st", "--dry-run"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 1 and "DNS-1035 label" in bad.stderr
