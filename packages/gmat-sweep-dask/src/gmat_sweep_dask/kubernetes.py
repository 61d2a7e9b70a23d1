"""Kubernetes: the dask-kubernetes operator's DaskCluster spec for a gmat-sweep.

    >>> from dask_kubernetes.operator import KubeCluster
    >>> from dask_kubernetes.operator.kubecluster.kubecluster import CreateMode
    >>> spec = sweep_cluster_spec("sma-sweep", image="registry.example/gmat-sweep:1.4.2",
    ...                           n_workers=32)
    >>> cluster = KubeCluster(custom_cluster_spec=spec, create_mode=CreateMode.CREATE_ONLY)

What a sweep needs beyond dask-kubernetes' defaults:

- a pinned image (``:latest`` or no tag is refused): every worker must run the same
  GMAT and gmat-sweep, or results differ between pods;
- ``imagePullPolicy: IfNotPresent``, so a rescheduled pod does not pull a new image;
- containers that run ``dask scheduler`` / ``dask worker`` (the ``dask`` command of
  distributed; the ``dask-scheduler`` and ``dask-worker`` scripts dask-kubernetes still
  writes no longer exist);
- ``GMAT_ROOT`` on every pod, and ``allowed-failures: 0`` on the scheduler so that a
  worker lost to eviction shows up as a ``lost`` attempt in the manifest (it is rerun);
- a non-zero ``idleTimeout``, so that the operator deletes a cluster whose driver died;
- optionally, one PersistentVolumeClaim (ReadWriteMany) mounted at the same path on the
  scheduler and every worker. Runs' outputs come back to the driver over Dask without it;
  it is only for files the script names by absolute path and for ``keep_gmat_files``.

Who may connect: a Dask scheduler runs the code it is sent, so :func:`sweep_network_policy`
gives the NetworkPolicy that lets only the cluster's own pods, its driver and the operator
reach the scheduler and workers. It is the secure setup with the operator, rather than
Dask's TLS, because dask-kubernetes writes ``tcp://`` scheduler addresses into the workers'
environment and into KubeCluster itself, so a TLS-only scheduler cannot be reached by
either. A NetworkPolicy is enforced only by a network plugin that implements it (Calico,
Cilium, ...); on others it is accepted and has no effect.

Needs ``pip install 'gmat-sweep-dask[kubernetes]'`` (for :func:`sweep_cluster_spec`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import dropwhile
from typing import Any

__all__ = [
    "DRIVER_LABELS",
    "MAX_NAME_LENGTH",
    "OPERATOR_LABELS",
    "sweep_cluster_spec",
    "sweep_network_policy",
]

#: Labels of the driver Pod (recipes/kubernetes/driver-pod.yaml carries them).
DRIVER_LABELS: Mapping[str, str] = {"app.kubernetes.io/name": "gmat-sweep-driver"}
#: Labels of the dask-kubernetes operator's Pod, as its Helm chart sets them by default.
OPERATOR_LABELS: Mapping[str, str] = {"app.kubernetes.io/name": "dask-kubernetes-operator"}

# Longest cluster name whose derived "<name>-scheduler" Service name fits a DNS-1035 label
# (63 characters). The other names the operator derives are no tighter: the worker group
# "<name>-default" (also a label value, <= 63) and its Deployments
# "<name>-default-worker-<10 hex>" (DNS subdomains, <= 253; their Pods' generated names
# are cut to 63 by Kubernetes).
MAX_NAME_LENGTH = 63 - len("-scheduler")
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_VOLUME = "gmat-sweep-data"
_SCHEDULER_COMMAND = ["dask", "scheduler"]
_WORKER_COMMAND = ["dask", "worker"]


def _check_name(name: str) -> None:
    if not _NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"cluster name {name!r} is not usable: it must be a DNS-1035 label (start with a "
            "lower-case letter; only a-z, 0-9 and '-'; end with a letter or digit) of at most "
            f"{MAX_NAME_LENGTH} characters, so that the Service '<name>-scheduler' the "
            "operator creates is a valid name. Use e.g. 'sma-sweep-2'."
        )


def _check_image(image: str) -> None:
    if "@sha256:" in image:
        return
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if not tag or tag == "latest":
        raise ValueError(
            f"image {image!r} is not pinned: give an explicit version tag or digest "
            "(e.g. registry.example/gmat-sweep:1.4.2). With a moving tag, pods started at "
            "different times can run different GMAT builds and the sweep is not reproducible."
        )


def _check_claim(pvc: str | None, mount_path: str | None) -> None:
    if (pvc is None) != (mount_path is None):
        given, missing = ("pvc", "mount_path") if mount_path is None else ("mount_path", "pvc")
        raise ValueError(
            f"{given} was given without {missing}: pass both (the claim and where to mount "
            "it on the scheduler and every worker) or neither (workers need no shared "
            "filesystem unless the script names files by absolute path or keep_gmat_files "
            "is set)."
        )
    if mount_path is not None and not mount_path.startswith("/"):
        raise ValueError(f"mount_path must be absolute (e.g. '/sweeps'), got {mount_path!r}")


def sweep_cluster_spec(
    name: str,
    *,
    image: str,
    n_workers: int,
    pvc: str | None = None,
    mount_path: str | None = None,
    gmat_root: str = "/opt/gmat",
    cpu: str = "1",
    memory: str = "2Gi",
    idle_timeout: int = 600,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``DaskCluster`` resource for a sweep, for ``KubeCluster(custom_cluster_spec=...)``.

    The resource validates against the DaskCluster CRD that dask-kubernetes ships, and its
    containers run ``dask scheduler --host 0.0.0.0`` and ``dask worker ... --nthreads 1``
    as their ``args`` (no ``command``): the image must have ``dask`` (distributed) on
    ``PATH`` and either no ENTRYPOINT or one that runs its arguments (``tini --``,
    ``exec "$@"``).

    Create it with ``KubeCluster(custom_cluster_spec=spec, create_mode=CreateMode.CREATE_ONLY)``:
    by default KubeCluster attaches to an existing cluster of the same name as it is,
    ignoring this spec, and does not delete it when closed.

    Args:
        name: cluster name: a DNS-1035 label of at most :data:`MAX_NAME_LENGTH` (53)
            characters (lower-case letters, digits, ``-``; starts with a letter).
        image: container image with GMAT and gmat-sweep, pinned by tag or digest.
        n_workers: worker pods (each runs one GMAT at a time).
        pvc: optional ReadWriteMany PersistentVolumeClaim to mount on the scheduler and
            every worker, for files the script names by absolute path and for
            ``keep_gmat_files`` (then put ``out`` under ``mount_path`` on the driver too).
            Without it the pods mount no claim: outputs travel back to the driver.
        mount_path: where ``pvc`` is mounted; given together with ``pvc`` or not at all.
        gmat_root: ``GMAT_ROOT`` inside the image.
        cpu, memory: requests and limits of each pod.
        idle_timeout: seconds the scheduler may go without tasks before the operator
            deletes the whole cluster. A driver keeps tasks in flight from its first
            submission to its last result, and its tasks are released when its connection
            drops, so this is what removes a cluster whose driver died. ``0`` disables it:
            such a cluster then runs until deleted by hand.
        env: extra environment for every pod.

    Raises:
        ValueError: an unusable name, an unpinned image, ``n_workers < 1``, a negative
            ``idle_timeout``, ``pvc`` without ``mount_path`` or the reverse, or a relative
            ``mount_path``.
        ImportError: dask-kubernetes is not installed.
    """
    _check_name(name)
    _check_image(image)
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    if idle_timeout < 0:
        raise ValueError(f"idle_timeout must be >= 0 seconds (0 disables it), got {idle_timeout}")
    _check_claim(pvc, mount_path)
    try:
        from dask_kubernetes.operator import make_cluster_spec
    except ImportError as exc:
        raise ImportError(
            "sweep_cluster_spec needs dask-kubernetes: pip install 'gmat-sweep-dask[kubernetes]'"
        ) from exc

    resources = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu, "memory": memory},
    }
    common_env = {"GMAT_ROOT": gmat_root, **(env or {})}
    spec: dict[str, Any] = make_cluster_spec(
        name,
        image=image,
        n_workers=n_workers,
        resources=resources,
        env=common_env,
        worker_command=" ".join(_WORKER_COMMAND),
        idle_timeout=idle_timeout,
    )
    for role in ("scheduler", "worker"):
        pod = spec["spec"][role]["spec"]
        if pvc is not None:
            volume = {"name": _VOLUME, "persistentVolumeClaim": {"claimName": pvc}}
            pod["volumes"] = [*pod.get("volumes", []), volume]
        for container in pod["containers"]:
            container["imagePullPolicy"] = "IfNotPresent"
            if mount_path is not None:
                container["volumeMounts"] = [
                    *container.get("volumeMounts", []),
                    {"name": _VOLUME, "mountPath": mount_path},
                ]
            if role == "worker":
                container["args"] = [*container["args"], "--nthreads", "1"]
            else:
                # make_cluster_spec writes ["dask-scheduler", <flags>...]: keep the flags.
                flags = dropwhile(lambda arg: not arg.startswith("-"), container["args"])
                container["args"] = [*_SCHEDULER_COMMAND, *flags]
                container["env"] = [
                    *container.get("env", []),
                    {"name": "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES", "value": "0"},
                ]
    return spec


def sweep_network_policy(
    name: str,
    *,
    driver_labels: Mapping[str, str] = DRIVER_LABELS,
    operator_labels: Mapping[str, str] = OPERATOR_LABELS,
) -> dict[str, Any]:
    """The NetworkPolicy ``<name>-dask``: only these may open connections to the pods of
    the DaskCluster ``name`` (its scheduler and workers, on any port):

    - the cluster's own pods (workers to the scheduler and to each other);
    - pods in the same namespace with ``driver_labels`` (the driver);
    - pods with ``operator_labels`` in any namespace (the operator asks the scheduler
      whether it is idle, and retires workers when scaling down).

    Everything else is refused, including other Dask clusters in the namespace. Create it
    in the cluster's namespace before the cluster, and delete it after.

    Raises:
        ValueError: an unusable cluster name, or empty ``driver_labels`` or
            ``operator_labels`` (an empty selector would admit every pod).
    """
    _check_name(name)
    if not driver_labels or not operator_labels:
        raise ValueError(
            "driver_labels and operator_labels must each name at least one label: an "
            "empty selector matches every pod, and the policy would admit them all."
        )
    own = {"matchLabels": {"dask.org/cluster-name": name}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{name}-dask", "labels": {"dask.org/cluster-name": name}},
        "spec": {
            "podSelector": own,
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": own},
                        {"podSelector": {"matchLabels": dict(driver_labels)}},
                        {
                            "namespaceSelector": {},
                            "podSelector": {"matchLabels": dict(operator_labels)},
                        },
                    ]
                }
            ],
        },
    }
