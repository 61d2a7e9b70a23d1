"""A real single-node Slurm cluster on this machine, for tests.

    python -m gmat_sweep_slurm.testing up [--dir DIR]     # prints SLURM_CONF=...
    python -m gmat_sweep_slurm.testing down [--dir DIR]

``up`` is idempotent: it installs Debian's slurmctld, slurmd, slurm-client and munge
when missing (root, ``apt-get``), writes a slurm.conf in DIR (state, spool, logs and
pid files there too), starts munged, slurmctld and slurmd on loopback, and waits
until the node is idle. ``down`` cancels every job and stops the daemons.
Known-good settings: ``../shared/ENGINES.md`` (Slurm 22.05, no systemd, no cgroups).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PARTITION", "SlurmSetupError", "down", "running_cluster", "squeue_jobs", "up"]

DEFAULT_DIR = Path("/tmp/gmat-sweep-slurm")
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
PARTITION = "debug"


class SlurmSetupError(RuntimeError):
    """The single-node cluster could not be installed or started (the message says why)."""


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def _install() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if os.geteuid() != 0:
        raise SlurmSetupError(
            "Slurm is not installed and this is not root; install "
            f"{' '.join(PACKAGES)} (Debian) first"
        )
    print("==> installing Slurm and munge (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        done = _run(cmd, env=env)
        if done.returncode != 0:
            raise SlurmSetupError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")


def _node_resources() -> tuple[int, int]:
    out = _run(["slurmd", "-C"]).stdout
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    cpus = int(fields.get("CPUs", os.cpu_count() or 1))
    memory = int(int(fields.get("RealMemory", 1024)) * 0.9)  # more than actual drains the node
    return cpus, memory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ports(conf: Path) -> tuple[int, int]:
    """The ports of an existing conf (idempotent ``up``), else two free ones, so that two
    clusters in different directories never fight over Slurm's default ports."""
    if conf.exists():
        fields = dict(line.split("=", 1) for line in conf.read_text().splitlines() if "=" in line)
        if "SlurmctldPort" in fields and "SlurmdPort" in fields:
            return int(fields["SlurmctldPort"]), int(fields["SlurmdPort"])
    return _free_port(), _free_port()


def _write_conf(root: Path) -> Path:
    cpus, memory = _node_resources()
    ctld_port, slurmd_port = _ports(root / "slurm.conf")
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "slurm.conf"
    conf.write_text(f"""\
ClusterName=gmatsweep
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CommunicationParameters=NoInAddrAny
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MailProg=/bin/true
SchedulerParameters=sched_interval=1
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def _munge_works() -> bool:
    return _run(["sh", "-c", "munge -n | unmunge"]).returncode == 0


def _stop_munged() -> None:
    """Stop the munged that :func:`_munge_up` started, by its pid file (never by name: a
    munged started by anything else on this machine is left alone)."""
    pidfile = Path("/run/munge/munged.pid")
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)


def _munge_up() -> None:
    if _munge_works():
        return
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    if not Path("/etc/munge/munge.key").exists():
        _run(["runuser", "-u", "munge", "--", "/usr/sbin/mungekey", "--create"])
    _run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"])
    for _ in range(50):
        if _run(["sh", "-c", "munge -n | unmunge"]).returncode == 0:
            return
        time.sleep(0.1)
    raise SlurmSetupError("munged did not start (munge -n | unmunge fails)")


def _alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def up(root: Path) -> Path:
    _install()
    conf = _write_conf(root)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    _munge_up()
    if not _alive(root / "slurmctld.pid"):
        done = _run(["slurmctld", "-c", "-f", str(conf)], env=env)
        if done.returncode != 0:
            raise SlurmSetupError(f"slurmctld failed: {done.stderr}; see {root}/log")
    if not _alive(root / "slurmd.pid"):
        done = _run(["slurmd", "-N", "localhost", "-f", str(conf)], env=env)
        if done.returncode != 0:
            raise SlurmSetupError(f"slurmd failed: {done.stderr}; see {root}/log")
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        state = _run(["sinfo", "-h", "-o", "%T"], env=env).stdout.strip()
        if state in ("idle", "mixed", "allocated"):
            return conf
        time.sleep(0.2)
    raise SlurmSetupError(f"node state {state!r} after 60 s; see {root}/log")


def down(root: Path) -> None:
    conf = root / "slurm.conf"
    env = {**os.environ, "SLURM_CONF": str(conf)}
    if conf.exists() and shutil.which("scancel"):
        _run(["scancel", "--full", "--user", "root"], env=env, timeout=30)
    for name in ("slurmd", "slurmctld"):
        pidfile = root / f"{name}.pid"
        if _alive(pidfile):
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_cluster(root: Path) -> Iterator[Path]:
    """``up(root)``, with SLURM_CONF set in os.environ for the clients; ``down`` after.

    A ``root`` that did not exist before is removed afterwards (with the cluster's state,
    spool and logs); an existing one is left in place. A ``munged`` this call started is
    stopped afterwards; one that was already running is left running.
    """
    created = not root.exists()
    munge_was_up = _munge_works()
    conf = up(root)
    saved = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        _wait_until_a_job_runs(root)  # jobs submitted in slurmctld's first seconds wait
        yield conf
    finally:
        down(root)
        if not munge_was_up:
            _stop_munged()
        if created:
            shutil.rmtree(root, ignore_errors=True)
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved


def _wait_until_a_job_runs(root: Path, timeout: float = 60.0) -> None:
    """Submit a job that does nothing and wait until it has run: the scheduler schedules.

    Raises:
        SlurmSetupError: it did not run within ``timeout`` seconds.
    """
    done = _run(["sbatch", "--parsable", "--job-name=gmat-sweep-probe",
                 f"--output={root}/log/probe-%j.out", "--wrap=true"])  # fmt: skip
    if done.returncode != 0:
        raise SlurmSetupError(f"sbatch of a probe job failed: {done.stderr}; see {root}/log")
    job = done.stdout.strip().split(";")[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _run(["squeue", "-h", "-j", job]).stdout.strip():
            return
        time.sleep(0.2)
    raise SlurmSetupError(f"a probe job did not run within {timeout:.0f} s; see {root}/log")


def squeue_jobs(name: str | None = None) -> list[tuple[str, str, str]]:
    """(job id, name, state) of the queue, optionally only the jobs called ``name``."""
    out = _run(["squeue", "-h", "-o", "%i %j %T"], check=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [(r[0], r[1], r[2]) for r in rows if name is None or r[1] == name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    try:
        if args.action == "up":
            print(f"SLURM_CONF={up(args.dir.resolve())}")
        else:
            down(args.dir.resolve())
    except SlurmSetupError as exc:
        sys.exit(f"single node Slurm: {exc}")


if __name__ == "__main__":
    main()
