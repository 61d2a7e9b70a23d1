"""``gmat-sweep report``: a self-contained HTML page, rendered in a real browser.

The page of a sweep with failed runs (run on the stand-in GMAT) holds what the issue
lists, escapes every string from the sweep, and references nothing outside itself. Debian's
``chromium``, headless (installed with apt-get when missing, as root), renders it to a
screenshot that is not blank and shows the figures, while every connection it tries goes
to a dead proxy on loopback and no host name resolves; its NetLog shows that the page
asked for nothing over the network (a control page with an external image shows the
check sees such requests).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

import gmat_sweep
from gmat_sweep import LocalPool, analysis, load_results, monte_carlo, sweep
from gmat_sweep.cli import main
from gmat_sweep.report import render_report, sensitivity_section, write_report
from gmat_sweep.results import Results
from gmat_sweep.testing import FakeGmatRule, kit_script, make_fake_gmat_install

SCRIPT = kit_script()
ALT = "Sat.Earth.Altitude"
FAILING_SMA = 7100.0
CHROMIUM_PACKAGE = "chromium"
#: Chromium's own background traffic (updates, sign-in, dictionaries) off where it can
#: be; what remains is browser-initiated ("not an origin") and goes to the dead proxy.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--no-pings",
    "--proxy-server=127.0.0.1:9",  # the discard port: nothing listens, nothing leaves
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A 3 x 2 grid whose SMA 7100 runs fail, and a 12-run Monte Carlo (all ok)."""
    if os.environ.get("GMAT_ROOT"):
        pytest.skip("needs the stand-in GMAT's failure knob")
    base = tmp_path_factory.mktemp("report")
    rules = [FakeGmatRule(when={"Sat.SMA": FAILING_SMA}, action="fail")]
    with pytest.MonkeyPatch.context() as patch, LocalPool(2) as pool:
        patch.setenv("GMAT_ROOT", str(make_fake_gmat_install(base / "GMAT", rules=rules)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "4/6 ok, 2 failed ..."
            grid = {"Sat.SMA": [7000.0, FAILING_SMA, 7200.0], "Coast": [600, 1200]}
            sweep(SCRIPT, grid=grid, out=base / "grid", backend=pool, lazy=True)
        perturb = {"Sat.SMA": ("normal", 7000.0, 20.0)}
        monte_carlo(SCRIPT, n=12, seed=9, perturb=perturb, out=base / "mc", backend=pool, lazy=True)
        yield base / "grid", base / "mc"


class _References(HTMLParser):
    """Everything in a page's markup that would make a browser fetch something."""

    FETCHING_TAGS: ClassVar[set[str]] = {
        *("script", "link", "iframe", "frame", "object", "embed", "base"),
        *("video", "audio", "source", "track", "input"),
    }
    URL_ATTRIBUTES: ClassVar[set[str]] = {
        *("src", "href", "srcset", "action", "formaction", "poster", "data"),
        *("background", "ping", "manifest"),
    }

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.FETCHING_TAGS:
            self.found.append(f"<{tag}>")
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in self.URL_ATTRIBUTES and not (value or "").startswith(
                "data:image/png;base64,"
            ):
                self.found.append(f"{tag} {name}={value}")
            if name == "style" and value and re.search(r"(?i)url\(|@import", value):
                self.found.append(f"{tag} style={value}")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and re.search(r"(?i)url\(|@import", data):
            self.found.append(f"<style>: {data[:80]}")


def _external_references(page: str) -> list[str]:
    parser = _References()
    parser.feed(page)
    parser.close()
    return parser.found


def test_the_page_holds_the_sweep_and_only_itself(sweeps: tuple[Path, Path]) -> None:
    grid, _ = sweeps
    page = render_report(grid)
    for heading in (
        "What was swept",
        "How the runs ended",
        "Runs that did not end ok",
        "Parameters",
        "Channels over time (report OrbitReport)",
        "Final values",
        "Failure map",
        "Carrying on",
    ):
        assert f">{heading}</h" in page, heading
    header = Results(grid).manifest.header
    assert header["sweep_id"] in page and header["script"]["sha256"] in page
    assert "GmatRunError: GMAT RunScript returned status -5" in page
    assert "injected failure (fake GMAT rule matched Sat.SMA = 7100.0)" in page  # log excerpt
    assert "grid/logs/000002-attempt1.log" in page and "==&gt; worker.log &lt;==" in page
    assert "<td>Sat.SMA</td><td>[7000.0, 7100.0, 7200.0]</td>" in page  # the design's values
    assert f"gmat-sweep resume {grid}" in page and "gmat-sweep extend" not in page  # a grid
    # The main channels: those that differ between runs at some epoch (here, computed
    # from the DataFrame), each drawn twice (bands, histogram), and the failure map.
    frame = load_results(grid)
    ok = frame[frame["__status"] == "ok"].drop(columns="__status")
    spread = ok.groupby(level="time").agg(lambda v: v.max() - v.min()).max()
    differ = [c for c in ok.columns if spread[c] > 1e-9 * ok[c].abs().max()]
    same = [c for c in ok.columns if c not in differ]
    assert differ and same
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', page)
    assert len(images) == 2 * len(differ) + 1
    assert f"Not drawn: {', '.join(same)} (the same in every run" in page
    assert _external_references(page) == []
    assert "Sensitivity indices" not in page  # not a sensitivity design
    # The scanner itself sees what would fetch:
    assert _external_references('<img src="http://x/y.png"><link href="a.css"><p>src=x</p>') == [
        "img src=http://x/y.png",
        "<link>",
        "link href=a.css",
    ]


def test_every_string_from_the_sweep_is_escaped(sweeps: tuple[Path, Path], tmp_path: Path) -> None:
    odd = tmp_path / "odd <dir> & 'q'"
    shutil.copytree(sweeps[0], odd)
    manifest = odd / "manifest.jsonl"
    evil = '<script>alert("x")</script> & <img src=http://example.com/x.png>'
    lines = manifest.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record.get("kind") == "run" and record.get("status") == "failed":
            record["error"]["message"] = evil
            record["error"]["log_tail"] = evil
            lines[i] = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    manifest.write_text("".join(lines))
    page = render_report(odd)
    assert "<script" not in page and "<dir>" not in page and "example.com" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page
    assert _external_references(page) == []


def test_a_monte_carlo_report_has_its_convergence_and_extend(sweeps: tuple[Path, Path]) -> None:
    _, mc = sweeps
    page = render_report(mc, channels=[ALT, "Sat.SMA"])
    assert ">All 12 runs ended ok.</p>" in page and ">Monte Carlo convergence</h2>" in page
    assert f"gmat-sweep extend {mc} --n 12" in page and "gmat-sweep resume" not in page
    assert "Failure map" not in page and "needs 93 runs, has 12" in page
    assert html.escape('{"family": "normal", "mu": 7000.0, "sigma": 20.0}') in page
    assert len(re.findall(r"<img ", page)) == 2 + 2 + 1


def test_cli_report_writes_into_the_sweep_or_where_told(
    sweeps: tuple[Path, Path], tmp_path: Path
) -> None:
    _, mc = sweeps
    runner = CliRunner()
    done = runner.invoke(main, ["report", str(mc), "--channel", ALT])
    assert done.exit_code == 0, done.output
    assert f"wrote {mc / 'report.html'}" in done.output and (mc / "report.html").is_file()
    target = tmp_path / "r.html"
    done = runner.invoke(
        main, ["report", str(mc), "-o", str(target), "--coverage", "0.5", "--confidence", "0.5"]
    )
    assert done.exit_code == 0 and "0.5 / 0.5 tolerance interval" in target.read_text()
    done = runner.invoke(main, ["report", str(mc), "--channel", "Sat.Nope"])
    assert done.exit_code == 2 and "not a numeric channel" in done.output
    done = runner.invoke(main, ["report", str(tmp_path / "none")])
    assert done.exit_code == 2 and "manifest.jsonl not found" in done.output


def test_sensitivity_indices_come_from_analysis_when_it_has_them(
    sweeps: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    results = Results(sweeps[1])
    assert sensitivity_section(results, [ALT], None, None) is None  # a Monte Carlo
    monkeypatch.setitem(results.manifest.header, "design", {"kind": "sobol", "parameters": []})
    calls: list[tuple[Any, ...]] = []

    def indices(runs: Any, metric: str, **options: Any) -> pd.DataFrame:
        calls.append((runs, metric, options))
        index = pd.Index(["Sat.SMA"], name="parameter")
        return pd.DataFrame(
            {"S1": [0.8125], "S1_conf": [0.03], "ST": [0.9], "ST_conf": [0.04]}, index=index
        )

    monkeypatch.setattr(analysis, "sensitivity", indices, raising=False)
    shown = sensitivity_section(results, [ALT], "OrbitReport", "report")
    assert shown is not None and calls == [
        (results, ALT, {"report": "OrbitReport", "kind": "report"})
    ]
    assert "<th>S1</th>" in shown and ">0.8125</td>" in shown and "Sobol&#x27;" in shown

    def refuses(runs: Any, metric: str, **options: Any) -> pd.DataFrame:
        raise gmat_sweep.errors.AnalysisError("2 of the 6 runs have no value; resume them")

    monkeypatch.setattr(analysis, "sensitivity", refuses)
    shown = sensitivity_section(results, [ALT], None, None)
    assert shown is not None and "2 of the 6 runs have no value; resume them" in shown
    # A gmat-sweep without analysis.sensitivity: the section says so.
    monkeypatch.delattr(analysis, "sensitivity")
    monkeypatch.setattr(
        analysis, "_LAZY", {k: v for k, v in analysis._LAZY.items() if k != "sensitivity"}
    )
    shown = sensitivity_section(results, [ALT], None, None)
    assert shown is not None and "has no gmat_sweep.analysis.sensitivity" in shown


def test_a_real_sobol_sweep_shows_its_indices(tmp_path: Path, gmat: Path) -> None:
    if not hasattr(gmat_sweep, "sobol"):
        pytest.skip("this gmat-sweep-core has no Sobol' designs")
    pytest.importorskip("SALib")
    out = tmp_path / "sobol"
    with LocalPool(2) as pool:
        gmat_sweep.sobol(
            SCRIPT,
            8,
            {"Sat.SMA": (6950.0, 7050.0), "Coast": (600.0, 900.0)},
            seed=3,
            out=out,
            backend=pool,
            lazy=True,
        )
    page = render_report(out, channels=[ALT])
    assert ">Sensitivity indices</h2>" in page and "<th>ST_conf</th>" in page
    table = analysis.sensitivity(out, ALT)
    assert f">{table.loc['Sat.SMA', 'S1']:.6g}</td>" in page


# -- in a real browser --------------------------------------------------------------


def _chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (root only)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail(
            "the report test renders the page in Debian's chromium, which is not installed, "
            f"and this is not root: install it first (apt-get install {CHROMIUM_PACKAGE})"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", CHROMIUM_PACKAGE]
    for cmd in (["apt-get", "update", "-qq"], install):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    found = shutil.which("chromium")
    assert found, "apt-get installed chromium, yet there is no chromium on PATH"
    return found


def _render(page: Path, work: Path, height: int) -> tuple[Image.Image, list[str]]:
    """Screenshot ``page`` in headless chromium; also the URLs the page itself asked the
    network for (NetLog requests not initiated by the browser)."""
    shot, netlog, profile = work / "shot.png", work / "net.json", work / "profile"
    home = work / "home"  # chromium keeps crash reports and dconf under HOME: not the user's
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    done = subprocess.run(
        [
            _chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size=1280,{height}",
            f"--screenshot={shot}",
            f"--log-net-log={netlog}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    shutil.rmtree(profile, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-3000:]
    text = netlog.read_text()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a log chromium did not get to close
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {code: name for name, code in log["constants"]["logEventTypes"].items()}
    requested = [
        str(event["params"].get("url"))
        for event in log["events"]
        if names.get(event["type"]) == "URL_REQUEST_START_JOB"
        and (event.get("params") or {}).get("url")
        and event["params"].get("initiator") != "not an origin"  # the page's, not chromium's
    ]
    with Image.open(shot) as image:
        return image.convert("RGB"), requested


def test_chromium_renders_the_report_offline(sweeps: tuple[Path, Path], tmp_path: Path) -> None:
    page = write_report(sweeps[0], tmp_path / "report.html")
    image, requested = _render(page, tmp_path, height=5200)
    assert requested == []
    assert image.size == (1280, 5200)
    rgb = np.asarray(image, dtype=np.int64)
    ink = int((rgb.min(axis=2) < 200).sum())
    assert ink > 0.02 * rgb.shape[0] * rgb.shape[1], f"the page looks blank ({ink} dark pixels)"
    # The figures drew: matplotlib's first colour (#1f77b4) fills the bands.
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    blue = int(((abs(r - 31) + abs(g - 119) + abs(b - 180) < 120) & (b > r + 60)).sum())
    assert blue > 5000, f"no figure on the page ({blue} blue pixels)"

    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><p>x</p><img src="http://example.invalid/x.png">')
    _, requested = _render(control, tmp_path, height=400)
    assert requested == ["http://example.invalid/x.png"]  # the check sees a page's request
    assert not (tmp_path / "profile").exists() and not (tmp_path / "home").exists()
