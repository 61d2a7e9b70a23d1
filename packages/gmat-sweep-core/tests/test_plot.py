"""``gmat_sweep.plot`` and ``gmat-sweep plot`` on real sweeps run on the stand-in GMAT.

Each picture is checked for the artists and labels it promises, and for drawing the
numbers :mod:`gmat_sweep.analysis` computes (the median line is the bands' 50 %, the
bound's line sits at the tolerance bound's value, the heat map's cells are the runs'
final values).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from gmat_sweep import LocalPool, analysis, monte_carlo, plot, sweep
from gmat_sweep.cli import main
from gmat_sweep.errors import AnalysisError, NotEnoughRunsError
from gmat_sweep.testing import FakeGmatRule, kit_script, make_fake_gmat_install

SCRIPT = kit_script()
ALT = "Sat.Earth.Altitude"
FAILING_SMA = 7100.0
N_MC = 30


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A 30-run Monte Carlo (all ok) and a 3 x 2 grid whose SMA 7100 runs fail."""
    if os.environ.get("GMAT_ROOT"):
        pytest.skip("needs the stand-in GMAT's failure knob")
    base = tmp_path_factory.mktemp("plot")
    rules = [FakeGmatRule(when={"Sat.SMA": FAILING_SMA}, action="fail")]
    with pytest.MonkeyPatch.context() as patch, LocalPool(2) as pool:
        patch.setenv("GMAT_ROOT", str(make_fake_gmat_install(base / "GMAT", rules=rules)))
        perturb = {"Sat.SMA": ("normal", 7000.0, 20.0), "Sat.INC": ("uniform", 40.0, 60.0)}
        monte_carlo(
            SCRIPT, n=N_MC, seed=4, perturb=perturb, out=base / "mc", backend=pool, lazy=True
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "4/6 ok, 2 failed ..."
            grid = {"Sat.SMA": [7000.0, FAILING_SMA, 7200.0], "Coast": [600, 1200]}
            sweep(SCRIPT, grid=grid, out=base / "grid", backend=pool, lazy=True)
        yield base / "mc", base / "grid"


def _legend_texts(figure: Figure) -> list[str]:
    legends = [ax.get_legend() for ax in figure.axes] + list(figure.legends)
    return [t.get_text() for legend in legends if legend is not None for t in legend.get_texts()]


def test_bands_draw_the_analysis_quantiles(sweeps: tuple[Path, Path]) -> None:
    mc, _ = sweeps
    figure = plot.bands(mc, [ALT, "Sat.SMA"])
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    table = analysis.bands(mc, [ALT, "Sat.SMA"], (0.01, 0.25, 0.5, 0.75, 0.99))
    for ax, channel in zip(figure.axes, [ALT, "Sat.SMA"], strict=True):
        assert ax.get_ylabel() == channel
        assert f"across {N_MC} ok runs" in ax.get_title(loc="left")
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 2 and len(ax.lines) == 1  # 1-99 % and 25-75 %, the median
        median = np.asarray(ax.lines[0].get_ydata(), dtype=float)
        np.testing.assert_array_equal(median, table[(channel, "50%")].to_numpy())
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "1% to 99%",
            "25% to 75%",
            "50% (median)",
        ]
    assert figure.axes[-1].get_xlabel() == "time"
    with pytest.raises(AnalysisError, match="not a numeric channel"):
        plot.bands(mc, "Sat.Nope")


def test_histogram_marks_the_tolerance_bound_at_its_value(sweeps: tuple[Path, Path]) -> None:
    mc, grid = sweeps
    figure = plot.distribution(mc, ALT, coverage=0.9, confidence=0.9)
    ax = figure.axes[0]
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert sum(p.get_height() for p in bars.patches) == N_MC
    final = analysis.final(mc, ALT)[ALT]
    bound = analysis.tolerance_bound(final, 0.9, 0.9)
    (line,) = ax.lines
    assert list(line.get_xdata()) == [bound.value, bound.value]
    assert "upper tolerance bound" in _legend_texts(figure)[0]
    assert ax.get_xlabel() == ALT and ax.get_ylabel() == "runs"
    # The failed runs are not drawn, never dropped silently: the bound must be told.
    with pytest.raises(AnalysisError, match="are NaN"):
        plot.distribution(grid, ALT, coverage=0.5, confidence=0.5)
    with pytest.raises(NotEnoughRunsError):
        plot.distribution(mc, ALT, coverage=0.99, confidence=0.99)
    figure = plot.distribution(grid, ALT, coverage=0.5, confidence=0.5, nan="omit")
    assert "2 runs without one (not ok)" in figure.axes[0].get_title(loc="left")


def test_ecdf_with_a_two_sided_interval(sweeps: tuple[Path, Path]) -> None:
    mc, _ = sweeps
    figure = plot.distribution(
        mc, ALT, style="ecdf", coverage=0.8, confidence=0.8, side="two-sided"
    )
    ax = figure.axes[0]
    step, *vertical = ax.lines
    assert np.asarray(step.get_ydata())[-1] == 1.0 and len(step.get_xdata()) == N_MC
    bound = analysis.tolerance_bound(analysis.final(mc, ALT)[ALT], 0.8, 0.8, "two-sided")
    assert sorted(v.get_xdata()[0] for v in vertical) == list(bound.value)
    series = analysis.final(mc, ALT)[ALT]
    assert plot.distribution(series).axes[0].get_xlabel() == ALT  # a Series of values


def test_pairs_is_a_corner_plot_and_bins_past_the_threshold(sweeps: tuple[Path, Path]) -> None:
    mc, _ = sweeps
    figure = plot.pairs(mc, ALT)
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 6  # 3 variables: SMA, INC, altitude
    bottom = [ax.get_xlabel() for ax in panels[-3:]]
    assert bottom == ["Sat.SMA", "Sat.INC", ALT]
    scatter = [c for ax in panels for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatter) == 3 and all(len(c.get_offsets()) == N_MC for c in scatter)
    assert any(ax.get_label() == "<colorbar>" and ax.get_ylabel() == ALT for ax in figure.axes)
    assert f"{N_MC} ok runs" in figure.get_suptitle()
    binned = plot.pairs(mc, ALT, ["Sat.SMA"], hexbin_above=10)
    hexes = [c for ax in binned.axes for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(binned.axes) == 3 and len(hexes) == 1
    with pytest.raises(AnalysisError, match="not a parameter"):
        plot.pairs(mc, ALT, ["Sat.ECC"])
    with pytest.raises(AnalysisError, match="DataFrame does not"):
        plot.pairs(pd.DataFrame(), ALT)


def test_heatmap_cells_are_the_final_values_and_failures_are_crossed(
    sweeps: tuple[Path, Path],
) -> None:
    _, grid = sweeps
    figure = plot.heatmap(grid, ALT)
    ax = figure.axes[0]
    (image,) = [i for i in ax.images if isinstance(i, AxesImage)]
    cells = np.ma.filled(image.get_array(), np.nan)
    final = analysis.final(grid, ALT)
    expected = (
        final.pivot_table(index="param:Coast", columns="param:Sat.SMA", values=ALT, dropna=False)
        .reindex(index=[600, 1200], columns=[7000.0, FAILING_SMA, 7200.0])
        .to_numpy()
    )
    np.testing.assert_array_equal(cells, expected)
    assert np.isnan(cells[:, 1]).all()  # the failing SMA's column
    assert ax.get_xlabel() == "Sat.SMA" and ax.get_ylabel() == "Coast"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["7000", "7100", "7200"]
    crosses = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(crosses) == 1 and "not ok (2)" in _legend_texts(figure)
    np.testing.assert_array_equal(crosses[0].get_offsets(), [[1, 0], [1, 1]])
    assert sum(t.get_text() == "failed" for t in ax.texts) == 2
    assert any(a.get_ylabel() == ALT for a in figure.axes[1:])  # the colour bar
    one_row = plot.heatmap(grid, ALT, "Sat.SMA", "Coast", at=None, annotate=False)
    assert not one_row.axes[0].texts
    with pytest.raises(AnalysisError, match="do not make a grid"):
        plot.heatmap(sweeps[0], ALT)  # a Monte Carlo
    with pytest.raises(AnalysisError, match="no run has Coast = 900"):
        plot.heatmap(grid, ALT, at={"Coast": 900})


def test_convergence_draws_the_running_mean(sweeps: tuple[Path, Path]) -> None:
    mc, _ = sweeps
    figure = plot.convergence(mc, ALT)
    top, bottom = figure.axes
    table = analysis.convergence(mc, ALT)
    mean = next(line for line in top.lines if line.get_label() == "running mean")
    np.testing.assert_array_equal(np.asarray(mean.get_ydata(), float), table["mean"].to_numpy())
    assert any(isinstance(c, PolyCollection) for c in top.collections)
    assert top.get_ylabel() == ALT and bottom.get_xlabel() == "run_id"
    assert "95% interval of the mean" in " ".join(_legend_texts(figure))
    sem = bottom.lines[0]
    np.testing.assert_array_equal(np.asarray(sem.get_ydata(), float), table["sem"].to_numpy())


def test_failure_map_marks_the_failed_parameter_values(sweeps: tuple[Path, Path]) -> None:
    _, grid = sweeps
    figure = plot.failures(grid)
    ax = figure.axes[0]
    by_label = {c.get_label(): c for c in ax.collections if isinstance(c, PathCollection)}
    assert set(by_label) == {"ok (4)", "failed (2)"}
    failed = sorted(map(tuple, np.asarray(by_label["failed (2)"].get_offsets()).tolist()))
    assert failed == [(FAILING_SMA, 600.0), (FAILING_SMA, 1200.0)]
    assert ax.get_xlabel() == "Sat.SMA" and ax.get_ylabel() == "Coast"
    assert figure.get_suptitle().startswith("2 of 6 runs did not end ok")
    single = plot.failures(grid, ["Sat.SMA"])
    assert single.axes[0].get_ylabel() == "run_id"


def test_save_writes_png_or_svg_by_suffix(sweeps: tuple[Path, Path], tmp_path: Path) -> None:
    figure = plot.failures(sweeps[1])
    plot.save(figure, tmp_path / "map.png")
    plot.save(figure, tmp_path / "map.svg")
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "map.svg").read_text()[:600]
    with pytest.raises(AnalysisError, match=r"\.png or \.svg"):
        plot.save(figure, tmp_path / "map.jpg")


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("bands", ["--channel", ALT, "--channel", "Sat.SMA", "--quantiles", "0.05,0.5,0.95"]),
        ("hist", ["--channel", ALT, "--coverage", "0.9", "--confidence", "0.9"]),
        ("ecdf", ["--channel", ALT, "--reduce", "min"]),
        ("pairs", ["--channel", ALT, "--param", "Sat.SMA"]),
        ("convergence", ["--channel", ALT]),
        ("failures", []),
    ],
)
def test_cli_plot_writes_each_kind(
    sweeps: tuple[Path, Path], tmp_path: Path, kind: str, options: list[str]
) -> None:
    target = tmp_path / f"{kind}.png"
    result = CliRunner().invoke(main, ["plot", str(sweeps[0]), kind, *options, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:4] == b"\x89PNG" and f"wrote {target}" in result.output


def test_cli_plot_heatmap_svg_and_usage_errors(sweeps: tuple[Path, Path], tmp_path: Path) -> None:
    grid = str(sweeps[1])
    target = tmp_path / "heat.svg"
    runner = CliRunner()
    done = runner.invoke(
        main,
        [
            "plot",
            grid,
            "heatmap",
            "--channel",
            ALT,
            "--param",
            "Sat.SMA",
            "--param",
            "Coast",
            "-o",
            str(target),
        ],
    )
    assert done.exit_code == 0, done.output
    assert "<svg" in target.read_text()[:600]
    for args, message in [
        (["hist", "-o", "x.png"], "give --channel NAME once"),
        (["bands", "-o", "x.png"], "needs --channel"),
        (["failures", "--channel", ALT, "-o", "x.png"], "leave out --channel"),
        (["hist", "--channel", ALT, "-o", "x.pdf"], ".png or .svg"),
        (["bands", "--channel", ALT, "--quantiles", "a,b", "-o", "x.png"], "separated by commas"),
        (["heatmap", "--channel", ALT, "--param", "Coast", "-o", "x.png"], "--param twice"),
    ]:
        done = runner.invoke(main, ["plot", grid, *args])
        assert done.exit_code == 2 and message in done.output, (args, done.output)
    done = runner.invoke(
        main,
        [
            "plot",
            grid,
            "hist",
            "--channel",
            ALT,
            "--coverage",
            "0.5",
            "-o",
            str(tmp_path / "h.png"),
        ],
    )
    assert done.exit_code == 2 and "nan='omit'" in done.output  # runs that failed: say so
    done = runner.invoke(main, ["plot", str(tmp_path), "failures", "-o", str(tmp_path / "f.png")])
    assert done.exit_code == 2 and "manifest.jsonl not found" in done.output


def test_import_is_lazy_and_a_missing_matplotlib_names_the_extra() -> None:
    code = (
        "import sys\n"
        "import gmat_sweep, gmat_sweep.plot\n"
        "print(sorted(m for m in ('matplotlib', 'pandas', 'numpy') if m in sys.modules))\n"
        "sys.modules['matplotlib'] = None\n"
        "from gmat_sweep.plot._figure import new_figure\n"
        "try:\n    new_figure()\nexcept ImportError as exc:\n"
        "    print(type(exc).__name__, '|', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.strip().splitlines()[:2]
    assert first == "[]"
    assert second.startswith("PlotUnavailableError |")
    assert 'pip install "gmat-sweep-core[plot]"' in done.stdout
