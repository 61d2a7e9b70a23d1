"""recipes/ray as Ray's cluster launcher reads it: schema, merged defaults, commands."""

from __future__ import annotations

import copy
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import yaml

RECIPE = Path(__file__).resolve().parents[3] / "recipes" / "ray"


def _launched_config() -> dict[str, Any]:
    """cluster.yaml merged with the provider's defaults and validated, as `ray up` does."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(copy.deepcopy(yaml.safe_load((RECIPE / "cluster.yaml").read_text())))
    validate_config(config)
    return config


def test_nothing_is_installed_when_a_node_starts() -> None:
    config = _launched_config()
    for key in ("setup_commands", "head_setup_commands", "worker_setup_commands"):
        assert config[key] == [], (key, config[key])
    every_command = [
        *config["initialization_commands"],
        *config["head_start_ray_commands"],
        *config["worker_start_ray_commands"],
    ]
    assert not [c for c in every_command if "pip " in c or "conda " in c], every_command


def test_worker_nodes_state_their_cpus_and_the_driver_asks_for_all_of_them() -> None:
    config = _launched_config()
    worker = config["available_node_types"]["gmat-worker"]
    cpus = worker["resources"]["CPU"]
    assert isinstance(cpus, int) and cpus >= 1
    assert config["available_node_types"]["head"]["resources"] == {"CPU": 0}
    driver = (RECIPE / "driver.py").read_text()
    assert f"default={worker['max_workers']} * {cpus}," in driver


def test_every_node_requires_the_token_that_is_copied_to_it() -> None:
    config = _launched_config()
    options = " ".join(config["docker"]["run_options"])
    assert "-e RAY_AUTH_MODE=token" in options
    token_path = options.split("RAY_AUTH_TOKEN_PATH=", 1)[1].split()[0]
    assert token_path in config["file_mounts"], config["file_mounts"]


def _stub(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_mount_command_can_run_again_on_a_mounted_node(tmp_path: Path) -> None:
    # The recipe's own command, run twice against stand-ins for sudo/mount/mountpoint: a
    # node that `ray up` restarts must not fail (or stack a second mount) on /sweeps.
    (command,) = _launched_config()["initialization_commands"]
    target = tmp_path / "sweeps"
    command = command.replace("/sweeps", str(target))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "mount-calls"
    _stub(bin_dir / "sudo", 'exec "$@"')
    _stub(bin_dir / "mount", f'echo "$@" >> {calls}; touch {target}/.mounted')
    _stub(bin_dir / "mountpoint", '[ -e "$2/.mounted" ]')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for _ in range(2):
        subprocess.run(["bash", "-c", command], env=env, check=True, timeout=30)
    assert calls.read_text().count("nfs4") == 1
