"""The driver's watchdog: it reaps only after the driver itself died."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gmat_sweep.testing import kit_script, manifest_lines


def test_a_driver_whose_parent_exits_keeps_its_gmat_hosts(
    gmat_with: Callable[..., Path], tmp_path: Path
) -> None:
    # `nohup python driver.py &` from a shell that then exits: the driver is re-parented,
    # its parent pid changes, and the watchdog must not take that for the driver's death.
    gmat_with(run_cost_s=0.1)
    out, log = tmp_path / "orphaned", tmp_path / "driver.log"
    driver = (
        "from gmat_sweep import Sweep\n"
        "from gmat_sweep.designs import Grid\n"
        f"Sweep({str(kit_script())!r}, Grid({{'Sat.SMA': [6900.0 + i for i in range(100)]}}),\n"
        f"      out={str(out)!r}, backend='local', backend_options={{'workers': 2}},\n"
        "      progress=False).run()\n"
        "print('driver finished', flush=True)\n"
    )
    (tmp_path / "driver.py").write_text(driver)
    log.write_text("")
    pidfile = tmp_path / "driver.pid"
    subprocess.run(
        [
            "sh",
            "-c",
            f"{sys.executable} {tmp_path / 'driver.py'} > {log} 2>&1 &\n"
            f"echo $! > {pidfile}; sleep 3",
        ],
        check=True,
    )  # the shell exits mid-sweep, after the watchdog started; the driver runs on
    pid = int(pidfile.read_text())
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "driver finished" not in log.read_text():
            time.sleep(0.2)
        assert "driver finished" in log.read_text(), log.read_text()[-3000:]
        statuses = {line["status"] for line in manifest_lines(out, "run")}
        assert statuses == {"ok"}, statuses
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
