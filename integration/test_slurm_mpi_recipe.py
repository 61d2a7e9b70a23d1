"""recipes/slurm/mpi.sbatch on the real single-node Slurm: Open MPI's mpirun inside the
allocation starts the ranks, rank 0 drives, and the sweep equals a local one; submitted
again, the recipe takes its resume branch and finds nothing left to run.

The recipe's site lines (marked EDIT, and the sizes) are swapped for this machine's; its
launch lines run as written.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gmat_sweep.testing import assert_sweeps_equal, kit_script, manifest_lines

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "slurm" / "mpi.sbatch"
GRID = ["--grid", "Sat.SMA=6900:7050:4", "--grid", "Sat.INC=0:90:3"]


def _for_this_machine(recipe: str, out: Path, log: Path) -> str:
    edits = {
        r"#SBATCH --nodes=\d+": "#SBATCH --nodes=1",
        # Three ranks on two CPUs: the driver mostly waits.
        r"#SBATCH --ntasks-per-node=\d+.*": "#SBATCH --ntasks=3\n#SBATCH --overcommit",
        r"#SBATCH --mem=\S+.*": "#SBATCH --mem=2G",
        r"#SBATCH --time=\S+.*": "#SBATCH --time=00:20:00",
        r"#SBATCH --output=\S+": f"#SBATCH --output={log}",
        r"module load .*": "",
        r"source .*activate.*": f"export PATH={Path(sys.executable).parent}:$PATH",
        r"OUT=\S+.*": f"OUT={out}",
        r"mission\.script --grid Sat\.SMA=\S+ \\\n\s+--grid Sat\.INC=\S+": (
            f"{kit_script()} {' '.join(GRID)}"
        ),
    }
    for pattern, replacement in edits.items():
        recipe, count = re.subn(pattern, replacement, recipe)
        assert count == 1, f"the recipe no longer has a line matching {pattern!r}"
    return recipe


def _sbatch(script: Path, env: dict[str, str]) -> None:
    done = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True,
                          env=env)  # fmt: skip
    assert done.returncode == 0, f"sbatch refused the recipe: {done.stderr}"
    job = done.stdout.strip().split(";")[0]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        queue = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True)
        if not queue.stdout.strip():
            return
        time.sleep(1)
    pytest.fail(f"job {job} still queued or running after 600 s")


@pytest.mark.timeout(900)
def test_the_slurm_mpi_recipe_runs_the_sweep_and_resumes(
    slurm: Path, mpi_env: dict[str, str], tmp_path: Path
) -> None:
    out, log = tmp_path / "out", tmp_path / "job.log"
    script = tmp_path / "mpi.sbatch"
    script.write_text(_for_this_machine(RECIPE.read_text(), out, log))
    env = {**mpi_env, "SLURM_CONF": str(slurm)}

    _sbatch(script, env)
    text = log.read_text() if log.exists() else ""
    assert (out / "manifest.jsonl").exists(), f"the sweep did not run:\n{text[-3000:]}"
    [session] = manifest_lines(out, "session")
    assert session["backend"]["name"] == "mpi"
    assert (session["backend"]["options"]["mode"], session["backend"]["options"]["workers"]) == (
        "launched", 2,
    )  # fmt: skip
    reference = tmp_path / "local"
    subprocess.run(["gmat-sweep", "run", str(kit_script()), *GRID, "--timeout", "600",
                    "--out", str(reference), "--no-progress"],
                   env=mpi_env, check=True, capture_output=True)  # fmt: skip
    assert_sweeps_equal(out, reference)

    _sbatch(script, env)  # resubmitted: the recipe's resume branch
    sessions = manifest_lines(out, "session")
    assert len(sessions) == 2, log.read_text()[-3000:]
    assert sessions[1]["runs_to_do"] == 0
    assert_sweeps_equal(out, reference)
