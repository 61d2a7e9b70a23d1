"""Worker sizing from Slurm's environment (pure: no Slurm needed)."""

from __future__ import annotations

import pytest

from gmat_sweep.errors import SweepConfigError
from gmat_sweep_slurm.pool import SlurmNotFoundError, choose_mode
from gmat_sweep_slurm.sizing import HEADROOM_ENV, parse_memory, resolve_sizing

GIB = 2**30
MACHINE = {"machine_cpus": 8, "machine_memory": 32 * GIB}


def test_inside_an_allocation_everything_comes_from_slurm() -> None:
    env = {"SLURM_CPUS_ON_NODE": "16", "SLURM_MEM_PER_NODE": "65536", "SLURM_JOB_NUM_NODES": "4"}
    s = resolve_sizing(env, **MACHINE)
    assert (s.nodes, s.cpus_per_node, s.memory_per_node) == (4, 16, 64 * GIB)
    assert (s.workers_per_node, s.threads_per_worker, s.memory_per_worker) == (16, 1, 4 * GIB)
    assert s.workers == 64


def test_memory_per_cpu_times_cpus() -> None:
    s = resolve_sizing({"SLURM_CPUS_ON_NODE": "4", "SLURM_MEM_PER_CPU": "2048"}, **MACHINE)
    assert s.memory_per_node == 8 * GIB and s.memory_per_worker == 2 * GIB


def test_outside_slurm_the_machine_is_used() -> None:
    s = resolve_sizing({}, **MACHINE)
    assert (s.nodes, s.cpus_per_node, s.memory_per_node, s.workers_per_node) == (1, 8, 32 * GIB, 8)


def test_slurm_cpu_lists_use_the_first_nodes_count() -> None:
    assert resolve_sizing({"SLURM_CPUS_ON_NODE": "12(x2)"}, **MACHINE).cpus_per_node == 12


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"threads_per_worker": 2}, (4, 2, 8 * GIB)),
        ({"workers_per_node": 2}, (2, 1, 16 * GIB)),
        ({"memory_per_worker": "10GiB"}, (3, 1, 10 * GIB)),  # memory limits the count
        ({"workers_per_node": 4, "memory_per_worker": "6GiB"}, (4, 1, 6 * GIB)),
        ({"workers_per_node": 2, "threads_per_worker": 4}, (2, 4, 16 * GIB)),
    ],
)
def test_missing_values_are_inferred_from_the_given_ones(
    given: dict[str, object], expected: tuple[int, int, int]
) -> None:
    s = resolve_sizing({}, **given, **MACHINE)  # type: ignore[arg-type]
    assert (s.workers_per_node, s.threads_per_worker, s.memory_per_worker) == expected


def test_headroom_is_kept_out_of_the_workers_limits() -> None:
    s = resolve_sizing({HEADROOM_ENV: "0.25"}, **MACHINE)
    assert s.headroom_frac == 0.25
    assert s.memory_per_worker * s.workers_per_node == 24 * GIB
    with pytest.raises(SweepConfigError, match="exceed the node's usable memory"):
        resolve_sizing({HEADROOM_ENV: "0.5"}, workers_per_node=4, memory_per_worker="5GiB",
                       **MACHINE)  # fmt: skip


@pytest.mark.parametrize("value", ["lots", "-0.1", "1", "1.5", "nan"])
def test_invalid_headroom_names_the_variable(value: str) -> None:
    with pytest.raises(SweepConfigError, match=HEADROOM_ENV):
        resolve_sizing({HEADROOM_ENV: value}, **MACHINE)


def test_layouts_that_do_not_fit_are_refused() -> None:
    with pytest.raises(SweepConfigError, match="need 16 CPUs; the node has 8"):
        resolve_sizing({}, workers_per_node=8, threads_per_worker=2, **MACHINE)
    with pytest.raises(SweepConfigError, match="workers_per_node must be a whole number"):
        resolve_sizing({}, workers_per_node=0, **MACHINE)
    with pytest.raises(SweepConfigError, match="SLURM_CPUS_ON_NODE='x' is not a whole number"):
        resolve_sizing({"SLURM_CPUS_ON_NODE": "x"}, **MACHINE)


def test_memory_sizes() -> None:
    assert parse_memory("4GB") == 4 * 10**9
    assert parse_memory("3.5GiB") == int(3.5 * GIB)
    assert parse_memory("800M") == 800 * 2**20
    assert parse_memory(1024) == 1024
    with pytest.raises(SweepConfigError, match="expected a size like"):
        parse_memory("4 parsecs")


def test_mode_is_chosen_from_the_environment() -> None:
    assert choose_mode({"SLURM_JOB_ID": "42"}, which=lambda _: None) == "allocation"
    assert choose_mode({}, which=lambda _: "/usr/bin/sbatch") == "jobs"
    with pytest.raises(SlurmNotFoundError, match="Slurm was not found.*backend='local'"):
        choose_mode({}, which=lambda _: None)
