"""Kubernetes: the dask-kubernetes operator's DaskCluster spec for a gmat-sweep.

    >>> from dask_kubernetes.operator import KubeCluster
    >>> spec = sweep_cluster_spec("sma-sweep", image="registry.example/gmat-sweep:1.4.2",
    ...                           n_workers=32, pvc="sweeps", mount_path="/sweeps")
    >>> cluster = KubeCluster(custom_cluster_spec=spec)

What a sweep needs beyond dask-kubernetes' defaults:

- a pinned image (``:latest`` or no tag is refused): every worker must run the same
  GMAT and gmat-sweep, or results differ between pods;
- ``imagePullPolicy: IfNotPresent``, so a rescheduled pod does not pull a new image;
- one PersistentVolumeClaim (ReadWriteMany) mounted at the same path on the scheduler
  and every worker, for files the script names by absolute path and for
  ``keep_gmat_files`` (runs' outputs come back to the driver without it);
- ``GMAT_ROOT`` on every pod, and ``allowed-failures: 0`` on the scheduler so that a
  worker lost to eviction shows up as a ``lost`` attempt in the manifest (it is rerun).

Needs ``pip install 'gmat-sweep-dask[kubernetes]'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["sweep_cluster_spec"]

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_VOLUME = "gmat-sweep-data"


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


def sweep_cluster_spec(
    name: str,
    *,
    image: str,
    n_workers: int,
    pvc: str,
    mount_path: str,
    gmat_root: str = "/opt/gmat",
    cpu: str = "1",
    memory: str = "2Gi",
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``DaskCluster`` resource for a sweep, for ``KubeCluster(custom_cluster_spec=...)``.

    Args:
        name: cluster name (a DNS label: lower-case letters, digits, ``-``).
        image: container image with GMAT and gmat-sweep, pinned by tag or digest.
        n_workers: worker pods (each runs one GMAT at a time).
        pvc: name of a ReadWriteMany PersistentVolumeClaim holding sweep directories.
        mount_path: where the claim is mounted in every pod; pass ``out`` under it.
        gmat_root: ``GMAT_ROOT`` inside the image.
        cpu, memory: requests and limits of each worker pod.
        env: extra environment for every pod.

    Raises:
        ValueError: an unpinned image, a bad name, ``n_workers < 1``, a relative mount.
        ImportError: dask-kubernetes is not installed.
    """
    if not _NAME.match(name):
        raise ValueError(f"cluster name {name!r} must be a DNS label (a-z, 0-9, '-')")
    _check_image(image)
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}")
    if not mount_path.startswith("/"):
        raise ValueError(f"mount_path must be absolute, got {mount_path!r}")
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
        name, image=image, n_workers=n_workers, resources=resources, env=common_env
    )
    volume = {"name": _VOLUME, "persistentVolumeClaim": {"claimName": pvc}}
    for role in ("scheduler", "worker"):
        pod = spec["spec"][role]["spec"]
        pod["volumes"] = [*pod.get("volumes", []), volume]
        for container in pod["containers"]:
            container["imagePullPolicy"] = "IfNotPresent"
            container["volumeMounts"] = [
                *container.get("volumeMounts", []),
                {"name": _VOLUME, "mountPath": mount_path},
            ]
            if role == "worker":
                container["args"] = [*container["args"], "--nthreads", "1"]
            else:
                container["env"] = [
                    *container.get("env", []),
                    {"name": "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES", "value": "0"},
                ]
    return spec
