"""Fixtures shared by core's tests.

Tests that run GMAT use the stand-in GMAT install from ``gmat_sweep.testing``,
unless ``GMAT_ROOT`` already points at a real GMAT install, in which case they run
on it (tests that need the stand-in's knobs are skipped there, saying why).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gmat_sweep.testing import FakeGmatRule, make_fake_gmat_install

EXAMPLES = Path(__file__).parent / "data"
# Captured before any test changes it: a GMAT_ROOT set by the user means real GMAT.
REAL_GMAT = bool(os.environ.get("GMAT_ROOT"))


@pytest.fixture(scope="session")
def fake_gmat_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fake_gmat_install(tmp_path_factory.mktemp("gmat") / "GMAT-R2026a")


@pytest.fixture
def gmat(monkeypatch: pytest.MonkeyPatch, fake_gmat_root: Path) -> Path:
    """GMAT_ROOT for this test: the stand-in (plain), or the real engine when configured."""
    if not REAL_GMAT:
        monkeypatch.setenv("GMAT_ROOT", str(fake_gmat_root))
    return Path(os.environ["GMAT_ROOT"])


@pytest.fixture
def gmat_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Make a stand-in GMAT with knobs (crash, hang, fail, slow runs) and point GMAT_ROOT at it."""
    if REAL_GMAT:
        pytest.skip("needs the stand-in GMAT's fault knobs; real GMAT cannot be told to crash")

    def make(*rules: FakeGmatRule, **knobs: Any) -> Path:
        root = make_fake_gmat_install(tmp_path / "GMAT-knobs", rules=rules, **knobs)
        monkeypatch.setenv("GMAT_ROOT", str(root))
        return root

    yield make


@pytest.fixture
def core_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backends as a user with only gmat-sweep-core installed sees them (no plugins)."""
    from gmat_sweep import registry

    monkeypatch.setattr(registry, "_registry", registry.builtin_registry())
