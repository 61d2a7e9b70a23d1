"""Backend resolution and the four error kinds of DESIGN section 5."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import pytest

from gmat_sweep.errors import (
    BackendConflictError,
    BackendError,
    BackendImportError,
    BackendNotInstalledError,
    UnknownBackendError,
)
from gmat_sweep.pools.base import Pool
from gmat_sweep.pools.local import DebugPool, LocalPool
from gmat_sweep.registry import Registry, get_registry, hookimpl, resolve_backend
from gmat_sweep.spec import RunOutcome, RunSpec


class EchoPool(Pool):
    name = "echo"
    description = "test pool"

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        raise NotImplementedError


def test_builtins_resolve_without_scanning_and_none_means_local() -> None:
    pool = resolve_backend(None, workers=2)
    assert isinstance(pool, LocalPool) and pool.capacity == 2
    assert isinstance(resolve_backend("debug"), DebugPool)
    assert {"local", "debug"} <= set(get_registry().names())


def test_instances_are_used_as_is_and_classes_instantiated() -> None:
    pool = EchoPool()
    assert resolve_backend(pool) is pool
    assert isinstance(resolve_backend(EchoPool), EchoPool)
    with pytest.raises(BackendError, match="ready-made pool"):
        resolve_backend(pool, workers=3)
    with pytest.raises(BackendError, match="rejected its options"):
        resolve_backend("debug", nonsense=1)
    with pytest.raises(BackendError, match="not int"):
        resolve_backend(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["dask", "ray", "slurm"])
def test_known_but_not_installed_gives_the_pip_line(name: str, core_only: None) -> None:
    with pytest.raises(BackendNotInstalledError) as info:
        resolve_backend(name)
    message = str(info.value)
    assert message.startswith(
        f"backend '{name}' is not installed. It is provided by the separate package "
        f"gmat-sweep-{name}; install it with:\n    pip install gmat-sweep-{name}\n"
    )
    assert "Installed backends: " in message and "local" in message
    assert isinstance(info.value, ImportError)


def test_unknown_backend_suggests_a_close_name_without_install_hint() -> None:
    with pytest.raises(UnknownBackendError) as info:
        resolve_backend("rya")
    message = str(info.value)
    assert message.startswith("unknown backend 'rya'; did you mean 'ray'? Installed backends: ")
    assert "pip install" not in message


def test_backends_module_gives_the_install_hint_for_missing_classes(core_only: None) -> None:
    with pytest.raises(BackendNotInstalledError, match="pip install gmat-sweep-dask"):
        from gmat_sweep.backends import DaskPool  # noqa: F401
    from gmat_sweep.backends import LocalPool as Imported

    assert Imported is LocalPool
    with pytest.raises(ImportError):
        from gmat_sweep.backends import NoSuchPool  # type: ignore[attr-defined]  # noqa: F401


def test_two_distributions_claiming_one_name_are_both_named() -> None:
    registry = Registry()
    registry.register(EchoPool, distribution="acme-echo", version="1.0")
    registry.register(EchoPool, distribution="other-echo", version="2.0")
    with pytest.raises(BackendConflictError, match="acme-echo 1.0 and other-echo 2.0"):
        registry.lookup("echo")


def test_a_plugin_whose_import_fails_names_distribution_version_and_error() -> None:
    registry = Registry()
    registry.register(
        "no_such_module_xyz.pool:Pool",
        name="ghost",
        description="",
        distribution="ghost-dist",
        version="0.3",
    )
    with pytest.raises(BackendImportError) as info:
        registry.lookup("ghost").load()
    assert "ghost-dist 0.3" in str(info.value) and "No module named 'no_such_module_xyz'" in str(
        info.value
    )


def test_a_known_plugin_that_failed_to_load_is_an_import_error_not_missing() -> None:
    registry = Registry()

    class Broken:
        @hookimpl
        def gmat_sweep_register_pools(self, register: object) -> None:
            raise RuntimeError("ray is too old")

    registry.add_plugin(Broken(), distribution="gmat-sweep-ray", version="0.1.0")
    with pytest.raises(BackendImportError, match=r"gmat-sweep-ray 0.1.0.*ray is too old"):
        registry.lookup("ray")


def test_one_broken_plugin_does_not_hide_the_others() -> None:
    registry = Registry()

    class Broken:
        @hookimpl
        def gmat_sweep_register_pools(self, register: object) -> None:
            raise RuntimeError("boom")

    class Good:
        @hookimpl
        def gmat_sweep_register_pools(self, register: object) -> None:
            register(EchoPool)  # type: ignore[operator]

    registry.add_plugin(Broken(), distribution="broken-dist", version="1")
    registry.add_plugin(Good(), distribution="good-dist", version="2")
    entry = registry.lookup("echo")
    assert entry.distribution == "good-dist" and entry.load() is EchoPool
    assert [b.distribution for b in registry.broken] == ["broken-dist"]
    with pytest.raises(UnknownBackendError, match="broken-dist 1: RuntimeError: boom"):
        registry.lookup("nothing-like-it")


def test_retention_names_from_plugins_resolve_and_conflicts_name_both() -> None:
    from gmat_sweep.errors import RetentionError

    registry = Registry()

    class Summaries:
        @hookimpl
        def gmat_sweep_register_retention(self, register: Any) -> None:
            register("final-sma", "acme.summaries:final_sma", description="final SMA")

    class Other:
        @hookimpl
        def gmat_sweep_register_retention(self, register: Any) -> None:
            register("final-sma", "other.summaries:final_sma")
            register("min-alt", "other.summaries:min_alt")

    class Broken:
        @hookimpl
        def gmat_sweep_register_retention(self, register: Any) -> None:
            register("bad name:with colon", "x:y")

    registry.add_plugin(Summaries(), distribution="acme-tools", version="1.0")
    registry.add_plugin(Broken(), distribution="broken-tools", version="0.1")
    assert registry.lookup_retention("final-sma").target == "acme.summaries:final_sma"
    registry.add_plugin(Other(), distribution="other-tools", version="2.0")
    assert registry.lookup_retention("min-alt").distribution == "other-tools"
    with pytest.raises(RetentionError, match="acme-tools 1.0 and other-tools 2.0"):
        registry.lookup_retention("final-sma")
    with pytest.raises(RetentionError, match="Did you mean 'min-alt'"):
        registry.lookup_retention("min-alt2")
    assert [b.distribution for b in registry.broken] == ["broken-tools"]
