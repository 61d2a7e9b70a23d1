"""A pool still open when the driver exits is closed then, and a failing close is said."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

DRIVER = textwrap.dedent(
    """
    import sys
    from concurrent.futures import Future
    from gmat_sweep import Pool

    class Noting(Pool):
        name = "noting"
        def __init__(self, label):
            super().__init__()
            self.label = label
        def submit(self, specs):
            return Future()
        def close(self):
            if self.label == "broken":
                raise RuntimeError("the cluster went away")
            print("closed", self.label, flush=True)

    kept = [Noting("open"), Noting("broken"), Noting("also-open")]
    with Noting("closed-by-with") as pool:
        pass
    dropped = Noting("dropped")
    del dropped  # garbage: nothing left to close at exit
    print("exiting", flush=True)
    """
)


def test_pools_left_open_are_closed_at_exit_and_a_failing_close_is_reported(
    tmp_path: Path,
) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "closed closed-by-with"
    assert lines[1] == "exiting"
    assert sorted(lines[2:]) == ["closed also-open", "closed closed-by-with", "closed open"]
    assert "closing Noting at exit failed (RuntimeError: the cluster went away)" in done.stderr


def test_a_pool_whose_constructor_raised_is_not_closed_at_exit(tmp_path: Path) -> None:
    # An uncaught refusal keeps the half-made pool alive (in the traceback) until exit:
    # only the refusal is printed, not a failed close of what was never made.
    script = tmp_path / "driver.py"
    script.write_text(
        "from gmat_sweep import Pool\n"
        "class Refusing(Pool):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        raise ValueError('workers must be >= 1')\n"
        "    def submit(self, specs):\n"
        "        raise AssertionError\n"
        "    def close(self):\n"
        "        print('closed', flush=True)\n"
        "Refusing()\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "ValueError: workers must be >= 1" in done.stderr
    assert "closed" not in done.stdout
    assert "at exit failed" not in done.stderr
