"""The documentation site: it builds, its examples run, its example plugin works.

- ``mkdocs build --strict`` succeeds.
- Every fenced ``python`` block of ``docs/*.md`` runs, and every ``bash``/``console``
  block made of ``gmat-sweep ...`` commands runs and exits 0. Each page runs in its own
  directory holding the example mission as ``mission.script``, its blocks in page
  order (so a later block may use what an earlier one wrote), each block in a fresh
  process, on the stand-in GMAT (or on real GMAT when ``GMAT_ROOT`` is set); the
  plugin page's with the example plugin installed. Blocks that only include a file of
  the example plugin (``--8<--``) are covered by the plugin's own tests. All pages run
  together, a few at a time, whichever page test is selected.
- Shell blocks that cannot run here (``pip install``...) must be listed in
  ``NOT_RUN``, with the reason; anything else is an error, so no example escapes.
- A page whose examples use one of the project's plugins (``gmat_sweep_dask``,
  ``--backend mpi``...) is skipped, saying which, when that plugin is not installed: the
  core package is also tested alone, with no plugin (CI's package-alone job); where the
  plugins are installed, the page runs.
- The example plugin under ``docs/examples/`` is built and installed with pip, its
  own tests (the backend test kit) pass, and ``gmat-sweep backends`` lists it.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from gmat_sweep.demo import example_script
from gmat_sweep.testing import run_watched

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
PLUGIN = DOCS / "examples" / "gmat-sweep-example-plugin"
BIN = Path(sys.executable).parent
PARALLEL_PAGES = 3
#: A block still running after this is reported with its processes' stacks, then killed.
BLOCK_TIMEOUT_S = 300
HUNG = "HUNG: "
#: Pages run once more after one of their blocks hung. mpi.md's first spawned driver hung
#: once in CI with no output (2026-12-03); a later hang there (2026-12-04), with stacks,
#: was an import deadlock between mpi4py's import hook and core's background imports, now
#: fixed (MPIPool loads ctypes first). Open MPI 4.1's launcher also hangs now and then by
#: itself (open-mpi/ompi#9713; see gmat_sweep_mpi.testing.run_mpi_job). The hang is still
#: reported, as a warning with its processes' stacks; a second hang, or any other
#: failure, fails the page.
RUN_AGAIN_AFTER_A_HANG = {"mpi.md"}

_MPI_RESUME = (
    'mpirun -n 9 python -m mpi4py.futures "$(command -v gmat-sweep)" resume OUT --backend mpi'
)
# Shell blocks that are shown but not run, keyed by page and the block's first line.
NOT_RUN: dict[tuple[str, str], str] = {
    ("index.md", "pip install gmat-sweep-core"): "installs from the package index",
    ("plugins.md", 'pip install -e ".[test]"'): "installs; test_example_plugin_* does that",
    ("mpi.md", "pip install gmat-sweep-core gmat-sweep-mpi"): "installs from the package index",
    ("mpi.md", "mpirun -n 9 python -m mpi4py.futures driver.py        # 1 driver + 8 workers"): (
        "srun needs Slurm; mpirun under a launcher is the console block that follows, and "
        "gmat-sweep-mpi's tests run driver scripts under mpirun and in a Slurm allocation"
    ),
    ("mpi.md", _MPI_RESUME): "OUT is a placeholder; gmat-sweep-mpi's test_faults.py resumes",
}
#: Commands a page's shell blocks may run besides ``gmat-sweep`` (with the page's engine).
EXTRA_COMMANDS = {"mpi.md": ("mpirun ",)}

SHELL_LANGUAGES = {"bash", "console", "sh", "shell"}
_PLUGIN_USE = re.compile(
    r"\bgmat_sweep_(dask|ray|slurm|mpi)\b|--backend[ =](dask|ray|slurm|mpi)\b"
    r"|backend=[\"'](dask|ray|slurm|mpi)[\"']"
)
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`\n]*)$")
_SNIPPET = re.compile(r"^\s*-{1,2}8<-{1,2}\s")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    language: str
    code: str

    @property
    def first_line(self) -> str:
        return next((ln.strip() for ln in self.code.splitlines() if ln.strip()), "")


def fenced_blocks(page: Path) -> list[Block]:
    """Every fenced code block of ``page``, with its language (first word of the info)."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        language = (opening["info"].strip().split() or [""])[0].lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        blocks.append(Block(page.name, i + 1, language, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def shell_commands(block: Block) -> list[str] | None:
    """The ``gmat-sweep`` commands of a shell block, or None if it holds anything else."""
    commands: list[str] = []
    for raw in block.code.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if block.language == "console":
            if not line.startswith("$ "):
                continue  # output shown after a prompt line
            line = line[2:].strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith(("gmat-sweep ", *EXTRA_COMMANDS.get(block.page, ()))):
            return None
        commands.append(line)
    return commands


def plugins_used(page: Path) -> set[str]:
    """The project plugins (``gmat_sweep_<name>`` modules) the page's run blocks use."""
    used: set[str] = set()
    for block in fenced_blocks(page):
        if block.language == "python" or block.language in SHELL_LANGUAGES:
            for match in _PLUGIN_USE.finditer(block.code):
                used.add(f"gmat_sweep_{next(g for g in match.groups() if g)}")
    return used


def missing_plugins(page: Path) -> list[str]:
    """The plugins the page uses that are not installed here."""
    return sorted(m for m in plugins_used(page) if importlib.util.find_spec(m) is None)


def test_pages_that_use_a_plugin_are_known() -> None:
    # What decides whether a page runs without its plugin: the pattern must keep seeing them.
    used = {page.name: plugins_used(page) for page in PAGES}
    assert used["dask.md"] == {"gmat_sweep_dask"}
    assert used["mpi.md"] == {"gmat_sweep_mpi"}
    assert used["slurm.md"] == {"gmat_sweep_slurm"}
    assert used["index.md"] == set()


def _env(gmat: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "GMAT_ROOT": str(gmat),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PYTHONPATH", None)
    return env


def _report(what: str, done: subprocess.CompletedProcess[str]) -> str:
    return f"{what} exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def test_every_page_is_in_the_nav_and_every_not_run_entry_exists() -> None:
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert PAGES, f"no pages in {DOCS}"
    for page in PAGES:
        assert f": {page.name}" in nav, f"{page.name} is missing from mkdocs.yml's nav"
    shown = {(b.page, b.first_line) for p in PAGES for b in fenced_blocks(p)}
    stale = sorted(set(NOT_RUN) - shown)
    assert not stale, f"NOT_RUN names blocks that are no longer in the docs: {stale}"


def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, _report("mkdocs build --strict", done)
    # The plugin page shows the example plugin's files, every line of them.
    page = (tmp_path / "site" / "plugins" / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    included = re.findall(r'--8<-- "([^"]+)"', (DOCS / "plugins.md").read_text(encoding="utf-8"))
    assert len(included) == 4, included
    for name in included:
        for line in (DOCS / "examples" / name).read_text(encoding="utf-8").splitlines():
            assert line.strip() in text, f"{name}: {line!r} is not on the built page"


def run_page(page: Path, root: Path, env: dict[str, str]) -> str | None:
    """Run the page's Python and ``gmat-sweep`` blocks in order, in one directory.

    Returns None when every block succeeded, else what failed and its output.
    """
    work = root / "work"
    work.mkdir(parents=True)
    shutil.copyfile(example_script(), work / "mission.script")
    for block in fenced_blocks(page):
        where = f"{block.page}:{block.line}"
        runs: list[tuple[str, list[str]]] = []
        if block.language == "python":
            if all(_SNIPPET.match(ln) for ln in block.code.splitlines() if ln.strip()):
                continue  # a file of the example plugin: tested by test_example_plugin_*
            script = root / f"block_{block.line}.py"
            script.write_text(block.code, encoding="utf-8")
            runs.append((f"python block at {where}", [sys.executable, str(script)]))
        elif block.language in SHELL_LANGUAGES:
            if (block.page, block.first_line) in NOT_RUN:
                continue
            commands = shell_commands(block)
            if commands is None:
                return (
                    f"shell block at {where} holds more than gmat-sweep commands; make it "
                    "runnable, or add it to NOT_RUN in test_docs.py with the reason it cannot run"
                )
            runs += [(f"`{c}` at {where}", ["bash", "-c", c]) for c in commands]
        for what, argv in runs:
            failure = run_block(what, argv, work, env)
            if failure is not None:
                return failure
    return None


def run_block(what: str, argv: list[str], cwd: Path, env: dict[str, str]) -> str | None:
    """Run one block; None when it exits 0, else what failed and its output (starting
    with ``HUNG`` when it did not finish).

    A block that has not finished after ``BLOCK_TIMEOUT_S`` fails its page only; the
    report lists its processes and their stacks (:func:`run_watched`).
    """
    done = run_watched(argv, timeout=BLOCK_TIMEOUT_S, env=env, cwd=cwd)
    if done.returncode == 0:
        return None
    report = f"{what} {done.report(tail=10**9)}"
    return report if done.returncode is not None else HUNG + report


@pytest.fixture(scope="module")
def page_failures(
    fake_gmat_root: Path,
    plugin_install: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> dict[str, str | None]:
    """Run every page's examples, a few pages at a time (each mostly waits on processes)."""
    if any(
        item.name == "test_example_plugin_passes_its_own_tests" for item in request.session.items
    ):
        request.getfixturevalue("plugin_tests")  # start them now, to overlap with the pages
    user_gmat = os.environ.get("GMAT_ROOT")  # a real GMAT, as in conftest's ``gmat``
    gmat = Path(user_gmat) if user_gmat else fake_gmat_root
    base = tmp_path_factory.mktemp("pages")
    jobs: dict[str, tuple[Path, Path, dict[str, str]]] = {}
    for page in PAGES:
        if missing_plugins(page):
            continue  # skipped by the test, which names the plugins
        env = _env(gmat)
        if page.name == "plugins.md":  # its examples use the example plugin, installed
            env["PYTHONPATH"] = str(plugin_install[1])
        if page.name == "mpi.md":  # real Open MPI, as root on loopback
            from gmat_sweep_mpi.testing import ensure_open_mpi, loopback_env

            ensure_open_mpi()
            env = loopback_env(env)
        jobs[page.name] = (page, base / page.stem, env)
    with ThreadPoolExecutor(max_workers=PARALLEL_PAGES) as executor:
        futures = {name: executor.submit(run_page, *job) for name, job in jobs.items()}
        failures = {name: _failure_of(future) for name, future in futures.items()}
    for name, failure in failures.items():
        if failure is not None and failure.startswith(HUNG) and name in RUN_AGAIN_AFTER_A_HANG:
            warnings.warn(f"{name} hung once; running it again. The hang:\n{failure}", stacklevel=1)
            page, root, env = jobs[name]
            failures[name] = run_page(page, root.with_name(root.name + "-again"), env)
    return failures


def _failure_of(page_run: Future[str | None]) -> str | None:
    """What ``run_page`` returned, or the error it raised: one page's trouble is its own."""
    try:
        return page_run.result()
    except Exception:
        return f"running the page's examples raised:\n{traceback.format_exc()}"


@pytest.mark.timeout(900)  # the first one sets up page_failures: every page, ~1 min
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_examples_of_the_page_run(page: Path, request: pytest.FixtureRequest) -> None:
    missing = missing_plugins(page)
    if missing:
        pytest.skip(f"{page.name}'s examples use {', '.join(missing)}, not installed here")
    page_failures: dict[str, str | None] = request.getfixturevalue("page_failures")
    failure = page_failures[page.name]
    assert failure is None, failure


@pytest.fixture(scope="module")
def plugin_install(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build and install the example plugin; return (its source copy, the install dir)."""
    source = tmp_path_factory.mktemp("plugin") / PLUGIN.name
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    site = tmp_path_factory.mktemp("plugin-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, _report("pip install of the example plugin", done)
    return source, site


@pytest.fixture(scope="module")
def plugin_tests(plugin_install: tuple[Path, Path]) -> Iterator[subprocess.Popen[bytes]]:
    """The example plugin's own pytest, started in the background; its output in files."""
    source, site = plugin_install
    # As for a plugin author: the kit makes its own stand-in GMAT unless GMAT_ROOT is set.
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    with open(source / "pytest.out", "wb") as out, open(source / "pytest.err", "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=source,
            stdout=out,
            stderr=err,
            env=env,
        )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.timeout(900)
def test_example_plugin_passes_its_own_tests(
    plugin_install: tuple[Path, Path], plugin_tests: subprocess.Popen[bytes]
) -> None:
    source, _ = plugin_install
    returncode = plugin_tests.wait(timeout=600)
    stdout = (source / "pytest.out").read_text(encoding="utf-8", errors="replace")
    stderr = (source / "pytest.err").read_text(encoding="utf-8", errors="replace")
    done = subprocess.CompletedProcess(plugin_tests.args, returncode, stdout, stderr)
    assert returncode == 0, _report("the example plugin's pytest", done)
    passed = re.search(r"\b(\d+) passed\b", stdout)
    assert passed is not None and int(passed[1]) >= 3, stdout


def test_example_plugin_is_listed_by_the_cli(plugin_install: tuple[Path, Path]) -> None:
    _, site = plugin_install
    done = subprocess.run(
        [str(BIN / "gmat-sweep"), "backends", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert done.returncode == 0, _report("gmat-sweep backends --json", done)
    listing = json.loads(done.stdout)
    assert listing["broken"] == []
    rows = {row["name"]: row for row in listing["backends"]}
    assert rows["example"]["distribution"] == "gmat-sweep-example"
    assert rows["example"]["version"] == "0.1.0"
    assert "concurrent.futures" in rows["example"]["description"]
