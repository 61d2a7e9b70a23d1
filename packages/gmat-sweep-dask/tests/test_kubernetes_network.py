"""The NetworkPolicy that guards a sweep's Dask cluster on Kubernetes.

Who may connect is decided against the labels the dask-kubernetes operator itself puts on
the scheduler and worker pods (its controller's own builders), the driver Pod of the
recipe and the operator's Helm chart, and the policy is read the way Kubernetes reads one:
a peer with only a podSelector is a pod of the policy's namespace, an empty
namespaceSelector is every namespace, and peers of one ``from`` list are alternatives.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gmat_sweep_dask.kubernetes import (
    DRIVER_LABELS,
    OPERATOR_LABELS,
    sweep_cluster_spec,
    sweep_network_policy,
)

from .test_kubernetes import K8S_VERSION, RECIPE, _driver

NAMESPACE = "sweeps"


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    unsupported = set(selector) - {"matchLabels"}
    assert not unsupported, f"this reader knows matchLabels only, not {unsupported}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _admits(policy: dict[str, Any], labels: Mapping[str, str], namespace: str) -> bool:
    """Whether a pod with ``labels`` in ``namespace`` may connect to the guarded pods."""
    for rule in policy["spec"]["ingress"]:
        for peer in rule["from"]:
            if "namespaceSelector" in peer:
                in_namespace = _matches(peer["namespaceSelector"], {"ns": namespace})
            else:
                in_namespace = namespace == NAMESPACE
            if in_namespace and _matches(peer.get("podSelector", {}), labels):
                return True
    return False


def _operator_pod_labels(cluster: str) -> dict[str, dict[str, str]]:
    from dask_kubernetes.operator.controller import controller

    spec = sweep_cluster_spec(cluster, image="reg/gmat-sweep:1.0", n_workers=2)["spec"]
    scheduler = controller.build_scheduler_deployment_spec(
        cluster, spec["scheduler"]["spec"], {}, {}
    )
    worker = controller.build_worker_deployment_spec(
        f"{cluster}-default", NAMESPACE, cluster, "0123456789", spec["worker"]["spec"], {}, {}
    )
    return {
        "scheduler": scheduler["spec"]["template"]["metadata"]["labels"],
        "worker": worker["spec"]["template"]["metadata"]["labels"],
    }


def test_the_policy_is_a_valid_networkpolicy_of_ingress_only() -> None:
    policy = sweep_network_policy("sma-sweep")
    kubernetes_validate.validate(policy, K8S_VERSION, True)
    assert policy["metadata"]["name"] == "sma-sweep-dask"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert all("ports" not in rule for rule in policy["spec"]["ingress"])  # Dask's ports vary


def test_it_guards_the_scheduler_and_workers_the_operator_makes() -> None:
    policy = sweep_network_policy("sma-sweep")
    for role, labels in _operator_pod_labels("sma-sweep").items():
        assert _matches(policy["spec"]["podSelector"], labels), role
    for role, labels in _operator_pod_labels("other-sweep").items():
        assert not _matches(policy["spec"]["podSelector"], labels), role


def test_it_admits_the_cluster_its_driver_and_the_operator_and_no_one_else() -> None:
    policy = sweep_network_policy("sma-sweep")
    own = _operator_pod_labels("sma-sweep")
    assert _admits(policy, own["worker"], NAMESPACE)
    assert _admits(policy, own["scheduler"], NAMESPACE)
    driver_pod = yaml.safe_load((RECIPE / "driver-pod.yaml").read_text())
    assert _admits(policy, driver_pod["metadata"]["labels"], NAMESPACE)
    assert _admits(policy, dict(OPERATOR_LABELS), "dask-operator")  # its own namespace
    # Refused: another sweep's workers, an unlabelled pod, a driver-labelled pod elsewhere.
    assert not _admits(policy, _operator_pod_labels("other-sweep")["worker"], NAMESPACE)
    assert not _admits(policy, {"app": "jupyter"}, NAMESPACE)
    assert not _admits(policy, {}, NAMESPACE)
    assert not _admits(policy, dict(DRIVER_LABELS), "someone-else")


def test_the_default_operator_label_is_the_one_its_helm_chart_sets() -> None:
    import dask_kubernetes

    chart = Path(dask_kubernetes.__file__).parent / "operator" / "deployment" / "helm"
    meta = yaml.safe_load((chart / "dask-kubernetes-operator" / "Chart.yaml").read_text())
    helpers = (chart / "dask-kubernetes-operator" / "templates" / "_helpers.tpl").read_text()
    assert 'app.kubernetes.io/name: {{ include "dask_kubernetes_operator.name" . }}' in helpers
    assert {"app.kubernetes.io/name": meta["name"]} == OPERATOR_LABELS


@pytest.mark.parametrize("empty", ["driver_labels", "operator_labels"])
def test_an_empty_selector_that_would_admit_everyone_is_refused(empty: str) -> None:
    with pytest.raises(ValueError, match="empty selector matches every pod"):
        sweep_network_policy("sma-sweep", **{empty: {}})
    with pytest.raises(ValueError, match="DNS-1035 label"):
        sweep_network_policy("Sma_Sweep")


class _FakePolicy:
    """Stands in for kr8s's NetworkPolicy object (no Kubernetes API here)."""

    def __init__(self, calls: list[str], leftover: bool) -> None:
        self.calls, self.leftover = calls, leftover

    def exists(self) -> bool:
        return self.leftover

    def create(self) -> None:
        self.calls.append("create")

    def delete(self) -> None:
        self.calls.append("delete")


def test_the_driver_holds_the_policy_around_the_cluster_even_when_it_fails() -> None:
    driver, calls = _driver(), []
    policy = sweep_network_policy("sma")
    made: list[tuple[dict[str, Any], str | None]] = []

    def make(resource: dict[str, Any], namespace: str | None) -> _FakePolicy:
        made.append((resource, namespace))
        return _FakePolicy(calls, leftover=False)

    with (
        pytest.raises(RuntimeError, match="the sweep failed"),
        driver.network_policy(policy, "ns", make=make),
    ):
        calls.append("sweep")
        raise RuntimeError("the sweep failed")
    assert calls == ["create", "sweep", "delete"] and made == [(policy, "ns")]
    # A policy left by a driver that died is replaced, not a reason to stop.
    calls.clear()
    with driver.network_policy(policy, "ns", make=lambda r, n: _FakePolicy(calls, True)):
        calls.append("sweep")
    assert calls == ["delete", "create", "sweep", "delete"]
    with driver.network_policy(None, "ns", make=make):
        pass
    assert len(made) == 1  # --no-network-policy: nothing made


def test_the_role_lets_the_driver_manage_its_policy() -> None:
    docs = list(yaml.safe_load_all((RECIPE / "rbac.yaml").read_text()))
    (role,) = [d for d in docs if d["kind"] == "Role"]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    for verb in ("get", "create", "delete"):
        assert ("networking.k8s.io", "networkpolicies", verb) in granted
