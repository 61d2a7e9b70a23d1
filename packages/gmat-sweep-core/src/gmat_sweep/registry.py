"""Backend registry: plugins, hooks, and ``backend="..."`` resolution.

Plugins are distributions that declare an entry point in the ``gmat_sweep`` group::

    [project.entry-points.gmat_sweep]
    gmat-sweep-ray = "gmat_sweep_ray.plugin"

The module named there must stay light (it must not import ray, dask...) and
implement the hook::

    from gmat_sweep.registry import hookimpl

    @hookimpl
    def gmat_sweep_register_pools(register):
        register("gmat_sweep_ray.pool:RayPool", name="ray",
                 description="Ray tasks, local or on a cluster")

A plugin may also name retention functions (``postprocess="<name>"``, see
:mod:`gmat_sweep.retention`)::

    @hookimpl
    def gmat_sweep_register_retention(register):
        register("min-altitude", "acme_tools.summaries:min_altitude",
                 description="lowest altitude of each run")

``register`` takes a Pool subclass, or a ``"module:Class"`` string that is imported
only when the backend is used (then give ``name`` and ``description`` so listing
backends imports nothing).

Plugins are loaded once per process, each inside its own try/except, so one broken
plugin does not hide the others. The built-in pools (``local``, ``debug``) are
registered directly.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from gmat_sweep.errors import (
    BackendConflictError,
    BackendError,
    BackendImportError,
    BackendNotInstalledError,
    UnknownBackendError,
)
from gmat_sweep.pools.base import Pool

__all__ = [
    "KNOWN_BACKENDS",
    "BackendEntry",
    "BrokenPlugin",
    "Registry",
    "RetentionEntry",
    "available_backends",
    "builtin_registry",
    "get_registry",
    "hookimpl",
    "hookspec",
    "resolve_backend",
]

PROJECT = "gmat_sweep"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Backends published by the gmat-sweep project as separate distributions.
KNOWN_BACKENDS: dict[str, str] = {
    "dask": "gmat-sweep-dask",
    "ray": "gmat-sweep-ray",
    "slurm": "gmat-sweep-slurm",
    "mpi": "gmat-sweep-mpi",
}

_CORE_DISTRIBUTION = "gmat-sweep-core"


class Hookspecs:
    """The hooks a gmat-sweep plugin may implement."""

    @hookspec
    def gmat_sweep_register_pools(self, register: Callable[..., None]) -> None:
        """Register the plugin's pools by calling ``register`` once per pool.

        ``register(target, *, name=None, description=None)`` where ``target`` is a
        :class:`~gmat_sweep.pools.base.Pool` subclass or a ``"module:Class"``
        string. With a string, pass ``name`` (the ``backend=`` string) and
        ``description`` (one line for ``gmat-sweep backends``) so that neither
        listing nor resolution of other backends imports your heavy dependencies.
        """

    @hookspec
    def gmat_sweep_register_retention(self, register: Callable[..., None]) -> None:
        """Name retention functions, usable as ``postprocess="<name>"``.

        ``register(name, target, *, description="")`` where ``target`` is the
        ``"module:function"`` the workers import (see :mod:`gmat_sweep.retention` for
        what the function receives and returns).
        """


@dataclass(frozen=True)
class BackendEntry:
    """One registered backend."""

    name: str
    target: str | type[Pool]
    distribution: str
    version: str
    description: str

    def load(self) -> type[Pool]:
        """Import (if needed) and return the Pool class.

        Raises:
            BackendImportError: the import failed, or the target is not a Pool.
        """
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:
            raise BackendImportError(
                f"backend {self.name!r} is installed (distribution {self.distribution} "
                f"{self.version}) but importing it failed: {type(exc).__name__}: {exc}. "
                f"Reinstall it with: pip install --force-reinstall {self.distribution}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Pool)):
            raise BackendImportError(
                f"backend {self.name!r} from {self.distribution} {self.version} points at "
                f"{self.target}, which is not a gmat_sweep Pool subclass"
            )
        return cls


@dataclass(frozen=True)
class RetentionEntry:
    """One named retention function."""

    name: str
    target: str
    distribution: str
    version: str
    description: str


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin whose entry point or hook failed while loading."""

    distribution: str
    version: str
    error: str


class Registry:
    """The backends known to this process."""

    def __init__(self) -> None:
        self.entries: list[BackendEntry] = []
        self.retention: list[RetentionEntry] = []
        self.broken: list[BrokenPlugin] = []
        self.plugin_manager = pluggy.PluginManager(PROJECT)
        self.plugin_manager.add_hookspecs(Hookspecs)

    def register(
        self,
        target: str | type[Pool],
        *,
        name: str | None = None,
        description: str | None = None,
        distribution: str = _CORE_DISTRIBUTION,
        version: str = "",
    ) -> BackendEntry:
        """Add one backend. A class supplies its own ``name``/``description``."""
        if isinstance(target, str):
            if ":" not in target:
                raise BackendError(f"register({target!r}): expected 'module:Class'")
            if name is None:
                cls = BackendEntry("?", target, distribution, version, "").load()
                name, description = cls.name, description or cls.description
        elif isinstance(target, type) and issubclass(target, Pool):
            name = name or target.name
            description = description or target.description
        else:
            raise BackendError(
                f"register() takes a Pool subclass or 'module:Class', not {target!r}"
            )
        if not name:
            raise BackendError(f"{target!r} has no backend name; set the class attribute 'name'")
        entry = BackendEntry(name, target, distribution, version, description or "")
        self.entries.append(entry)
        return entry

    def register_retention(
        self,
        name: str,
        target: str,
        *,
        description: str = "",
        distribution: str = _CORE_DISTRIBUTION,
        version: str = "",
    ) -> RetentionEntry:
        """Name a retention function ``"module:function"`` (imported only when it runs)."""
        if not isinstance(name, str) or not name or ":" in name:
            raise BackendError(f"register_retention: {name!r} is not a usable name")
        if not isinstance(target, str) or ":" not in target:
            raise BackendError(f"register_retention({name!r}): expected 'module:function'")
        entry = RetentionEntry(name, target, distribution, version, description)
        self.retention.append(entry)
        return entry

    def add_plugin(self, plugin: object, *, distribution: str, version: str) -> None:
        """Register a plugin object (module) and collect the pools and retention
        functions it registers."""
        try:
            self.plugin_manager.register(plugin, name=f"{distribution}:{id(plugin)}")
            hook = self.plugin_manager.hook

            def register(target: str | type[Pool], **kwargs: Any) -> None:
                self.register(target, distribution=distribution, version=version, **kwargs)

            def register_retention(name: str, target: str, **kwargs: Any) -> None:
                self.register_retention(
                    name, target, distribution=distribution, version=version, **kwargs
                )

            for impl in hook.gmat_sweep_register_pools.get_hookimpls():
                if impl.plugin is plugin:
                    impl.function(register=register)
            for impl in hook.gmat_sweep_register_retention.get_hookimpls():
                if impl.plugin is plugin:
                    impl.function(register=register_retention)
        except Exception as exc:
            self.broken.append(BrokenPlugin(distribution, version, f"{type(exc).__name__}: {exc}"))

    def load_entry_points(self) -> None:
        """Load every ``gmat_sweep`` entry point, each in its own try/except."""
        from importlib.metadata import entry_points

        for ep in entry_points(group=PROJECT):
            dist = getattr(ep, "dist", None)
            distribution = dist.metadata["Name"] if dist is not None else ep.name
            version = dist.version if dist is not None else ""
            try:
                plugin = ep.load()
            except Exception as exc:
                self.broken.append(
                    BrokenPlugin(distribution, version, f"{type(exc).__name__}: {exc}")
                )
                continue
            self.add_plugin(plugin, distribution=distribution, version=version)

    def names(self) -> list[str]:
        return sorted({e.name for e in self.entries})

    def lookup(self, name: str) -> BackendEntry:
        """The entry registered as ``name``.

        Raises:
            BackendConflictError, BackendNotInstalledError, BackendImportError,
            UnknownBackendError: see DESIGN section 5; each message says what to do.
        """
        matches = [e for e in self.entries if e.name == name]
        if len(matches) > 1:
            claimants = " and ".join(f"{e.distribution} {e.version}".strip() for e in matches)
            raise BackendConflictError(
                f"backend name {name!r} is registered by more than one distribution: "
                f"{claimants}. Uninstall one of them, or pass the Pool class or instance "
                "itself as backend= instead of its name."
            )
        if matches:
            return matches[0]
        installed = ", ".join(self.names()) or "(none)"
        if name in KNOWN_BACKENDS:
            package = KNOWN_BACKENDS[name]
            broken = [b for b in self.broken if _normalise(b.distribution) == package]
            if broken:
                b = broken[0]
                raise BackendImportError(
                    f"backend {name!r} is installed (distribution {b.distribution} {b.version}) "
                    f"but its plugin failed to load: {b.error}. Reinstall it with: "
                    f"pip install --force-reinstall {package}"
                )
            raise BackendNotInstalledError(
                f"backend {name!r} is not installed. It is provided by the separate package "
                f"{package}; install it with:\n    pip install {package}\n"
                f"Installed backends: {installed}"
            )
        candidates = sorted(set(self.names()) | set(KNOWN_BACKENDS))
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        message = f"unknown backend {name!r}{hint} Installed backends: {installed}"
        if self.broken:
            failed = "; ".join(f"{b.distribution} {b.version}: {b.error}" for b in self.broken)
            message += f". Plugins that failed to load: {failed}"
        raise UnknownBackendError(message)

    def lookup_retention(self, name: str) -> RetentionEntry:
        """The retention function registered as ``name``.

        Raises:
            RetentionError: no plugin (or two) registered that name.
        """
        from gmat_sweep.errors import RetentionError

        matches = [e for e in self.retention if e.name == name]
        if len(matches) == 1:
            return matches[0]
        if matches:
            claimants = " and ".join(f"{e.distribution} {e.version}".strip() for e in matches)
            raise RetentionError(
                f"retention name {name!r} is registered by {claimants}; pass the function "
                f"as 'module:function' instead ({matches[0].target} or {matches[1].target})"
            )
        known = sorted({e.name for e in self.retention})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise RetentionError(
            f"no retention function is registered as {name!r}.{hint} Registered: "
            f"{', '.join(known) or '(none)'}. To use your own function, pass it or "
            "'package.module:function'."
        )


def _normalise(distribution: str) -> str:
    return distribution.lower().replace("_", "-").replace(".", "-")


_registry: Registry | None = None


def builtin_registry() -> Registry:
    """A registry holding only core's pools (``local``, ``debug``), no plugins."""
    registry = Registry()
    registry.register(
        "gmat_sweep.pools.local:LocalPool",
        name="local",
        description="GMAT processes on this machine, one per core (the default).",
    )
    registry.register(
        "gmat_sweep.pools.local:DebugPool",
        name="debug",
        description="One run at a time inside this Python process, for debugging.",
    )
    registry.register_retention(
        "extremes",
        "gmat_sweep.retention:extremes",
        description="One row per run: minimum, maximum and final value of each channel.",
    )
    return registry


def get_registry() -> Registry:
    """The process-wide registry, built on first use (built-ins, then plugins)."""
    global _registry
    if _registry is None:
        registry = builtin_registry()
        registry.load_entry_points()
        _registry = registry
    return _registry


def available_backends() -> list[BackendEntry]:
    """Every registered backend, sorted by name."""
    return sorted(get_registry().entries, key=lambda e: (e.name, e.distribution))


def resolve_backend(backend: Pool | type[Pool] | str | None = None, **options: Any) -> Pool:
    """Turn ``backend=`` into a Pool.

    - a Pool instance is used as is (``options`` must then be empty);
    - a Pool subclass is instantiated with ``options``;
    - a string is looked up among the registered backends and instantiated;
    - None gives :class:`~gmat_sweep.pools.local.LocalPool` on every core.

    Raises:
        BackendError (or a subclass): see :meth:`Registry.lookup`; also for an
            object that is none of the above, or options the pool rejects.
    """
    if isinstance(backend, Pool):
        if options:
            raise BackendError(
                "backend options were given together with a ready-made pool; pass the "
                "options to the pool's constructor instead"
            )
        return backend
    if backend is None:
        backend = "local"
    if isinstance(backend, str):
        cls = get_registry().lookup(backend).load()
    elif isinstance(backend, type) and issubclass(backend, Pool):
        cls = backend
    else:
        raise BackendError(
            f"backend must be a backend name (e.g. 'local'), a Pool subclass or a Pool "
            f"instance, not {type(backend).__name__}"
        )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "no options"
        why = str(exc).rstrip(". ")
        raise BackendError(
            f"backend {cls.name!r} rejected its options ({given}): {why}. Nothing was run "
            "and nothing was written; fix the options and start again."
        ) from exc
