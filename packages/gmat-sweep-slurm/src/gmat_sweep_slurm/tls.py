"""TLS for SlurmPool: which certificates, and how they reach workers on other nodes.

A Dask scheduler runs the code it is sent, and on a cluster its port is reachable by
every user of the cluster's network, so SlurmPool speaks mutual TLS unless told not to.
By default it makes throwaway certificates (``distributed.Security.temporary()``: one
key pair and a self-signed CA, in memory, valid for this pool only). How the worker
side gets them depends on the mode:

- **allocation**: the ``srun`` step that starts the workers carries them in its
  environment (Dask's ``DASK_DISTRIBUTED__COMM__TLS__*`` settings). Slurm forwards a
  step's environment to its tasks over its own authenticated channel; nothing is written
  to disk and nothing appears on a command line (``ps`` shows no key).
- **jobs**: worker jobs are batch scripts that dask-jobqueue writes and Slurm may start
  much later, so the certificates are written to files (mode 0600) in a private folder
  (mode 0700) on a filesystem the compute nodes see, named on the worker command line
  by path. The pool removes the folder at close, and the driver's watchdog removes it
  if the driver is killed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["pool_security", "security_on_disk", "worker_tls_environment"]

# Security field -> the Dask config key a worker reads it from (as DASK_ + upper-case).
_WORKER_SETTINGS = {
    "tls_ca_file": "DASK_DISTRIBUTED__COMM__TLS__CA_FILE",
    "tls_worker_cert": "DASK_DISTRIBUTED__COMM__TLS__WORKER__CERT",
    "tls_worker_key": "DASK_DISTRIBUTED__COMM__TLS__WORKER__KEY",
}
_ROLES = ("client", "scheduler", "worker")


def pool_security(security: Any) -> Any:
    """The ``distributed.Security`` the pool uses, or None for plain TCP.

    Raises:
        ValueError: ``security`` is not None, True, False, a Security or its arguments,
            or a Security without a CA and a worker certificate and key.
    """
    from distributed.security import Security

    if security is None or security is True:
        return Security.temporary()  # type: ignore[no-untyped-call]
    if security is False:
        return None
    from gmat_sweep_dask.pool import as_security

    security = as_security(security, "SlurmPool")
    missing = [field for field in _WORKER_SETTINGS if not getattr(security, field, None)]
    if missing:
        raise ValueError(
            f"SlurmPool: security= has no {', '.join(missing)}; the workers this pool starts "
            "need a CA and a worker certificate and key. Give every tls_* field "
            "(tls_ca_file, tls_client_*, tls_scheduler_*, tls_worker_*), or security=True "
            "for throwaway certificates."
        )
    return security


def worker_tls_environment(security: Any) -> dict[str, str]:
    """Environment that makes a ``dask worker`` speak TLS with ``security``'s worker
    certificate (file paths or PEM text, as the Security holds them); empty for None."""
    if security is None:
        return {}
    env = {name: str(getattr(security, field)) for field, name in _WORKER_SETTINGS.items()}
    env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] = "True"
    return env


def security_on_disk(security: Any, folder: Path) -> Any:
    """``security`` with every in-memory certificate or key written to a file in
    ``folder`` (mode 0600) and named by path, so a batch job can read it later.

    Fields that already name files are kept as they are.

    Raises:
        OSError: a file cannot be written in ``folder``.
    """
    import copy

    on_disk = copy.copy(security)
    written: dict[str, str] = {}
    fields = ["tls_ca_file"] + [f"tls_{role}_{part}" for role in _ROLES for part in ("cert", "key")]
    for field in fields:
        value = getattr(security, field, None)
        if not value or "\n" not in str(value):
            continue
        path = written.get(value)
        if path is None:
            path = str(folder / f"{len(written)}.pem")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(value)
            written[value] = path
        setattr(on_disk, field, path)
    return on_disk
