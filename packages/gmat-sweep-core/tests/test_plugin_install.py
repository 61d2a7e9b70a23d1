"""A third-party backend, installed as a real distribution, found through its entry point.

The plugin package is built and installed by pip (``--target``, no network, no deps)
into a directory that a fresh interpreter gets on ``PYTHONPATH``: exactly how
``pip install gmat-sweep-acme`` makes ``backend="acme-lanes"`` work, without
touching this test environment's site-packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gmat_sweep.testing import kit_script

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "gmat-sweep-acme"
version = "1.2.3"
dependencies = []

[project.entry-points.gmat_sweep]
acme = "gmat_sweep_acme.plugin"

[tool.hatch.build.targets.wheel]
packages = ["src/gmat_sweep_acme"]
"""

PLUGIN = """\
from gmat_sweep.registry import hookimpl


@hookimpl
def gmat_sweep_register_pools(register):
    register(
        "gmat_sweep_acme.pool:LanesPool",
        name="acme-lanes",
        description="Local processes in a fixed number of lanes (test plugin)",
    )


@hookimpl
def gmat_sweep_register_retention(register):
    register("acme-final-sma", "gmat_sweep_acme.summaries:final_sma",
             description="the SMA at the end of each run")
"""

SUMMARIES = """\
def final_sma(outputs):
    return {"final_sma": float(outputs["OrbitReport"]["Sat.SMA"].iloc[-1])}
"""

POOL = """\
from gmat_sweep.pools.local import LocalPool


class LanesPool(LocalPool):
    name = "acme-lanes"
    description = "Local processes in a fixed number of lanes (test plugin)"

    def __init__(self, lanes=2):
        super().__init__(lanes)
        self.lanes = lanes

    def options(self):
        return {"lanes": self.lanes}
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("acme-src")
    (src / "pyproject.toml").write_text(PYPROJECT)
    package = src / "src" / "gmat_sweep_acme"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(PLUGIN)
    (package / "pool.py").write_text(POOL)
    (package / "summaries.py").write_text(SUMMARIES)
    site = tmp_path_factory.mktemp("acme-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return site


def _python(site: Path, code: str, gmat: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "GMAT_ROOT": str(gmat)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def test_an_installed_plugin_runs_a_sweep_by_name(
    plugin_site: Path, gmat: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    done = _python(
        plugin_site,
        f"""
        import json
        from gmat_sweep import sweep
        df = sweep({str(kit_script())!r}, grid={{"Sat.SMA": [7000.0, 7100.0, 7200.0]}},
                   backend="acme-lanes", backend_options={{"lanes": 2}}, out={str(out)!r},
                   progress=False)
        print(json.dumps(sorted(set(df["__status"]))))
        """,
        gmat,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == ["ok"]
    session = [
        json.loads(line)
        for line in (out / "manifest.jsonl").read_text().splitlines()
        if '"kind":"session"' in line
    ]
    assert session[0]["backend"] == {"name": "acme-lanes", "options": {"lanes": 2}}


def test_the_cli_lists_it_with_its_distribution(plugin_site: Path, gmat: Path) -> None:
    done = _python(
        plugin_site,
        """
        import sys
        from gmat_sweep.cli import main
        sys.argv = ["gmat-sweep", "backends", "--json"]
        main()
        """,
        gmat,
    )
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["broken"] == []
    rows = {row["name"]: row for row in listing["backends"]}
    assert rows["acme-lanes"]["distribution"] == "gmat-sweep-acme"
    assert rows["acme-lanes"]["version"] == "1.2.3"
    assert {"local", "debug"} <= set(rows)


def test_a_plugin_names_a_retention_function_that_runs_on_the_workers(
    plugin_site: Path, gmat: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    done = _python(
        plugin_site,
        f"""
        import json
        from gmat_sweep import sweep
        full = sweep({str(kit_script())!r}, grid={{"Sat.SMA": [7000.0, 7100.0]}},
                     out={str(tmp_path / "full")!r}, progress=False)
        summary = sweep({str(kit_script())!r}, grid={{"Sat.SMA": [7000.0, 7100.0]}},
                        postprocess="acme-final-sma", out={str(out)!r}, progress=False)
        print(json.dumps([summary["final_sma"].tolist(),
                          full.groupby(level="run_id")["Sat.SMA"].last().tolist()]))
        """,
        gmat,
    )
    assert done.returncode == 0, done.stderr
    summary, expected = json.loads(done.stdout.splitlines()[-1])
    assert summary == expected and len(summary) == 2
    header = json.loads((out / "manifest.jsonl").read_text().splitlines()[0])
    assert header["settings"]["retention"]["postprocess"] == "acme-final-sma"
    assert header["settings"]["retention"]["target"] == "gmat_sweep_acme.summaries:final_sma"
