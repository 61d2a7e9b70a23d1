"""The module the entry point names. gmat-sweep imports it whenever it lists or
looks up backends, so it imports nothing heavy: the pool is named as a string and
imported only when someone asks for ``backend="example"``."""

from __future__ import annotations

from collections.abc import Callable

from gmat_sweep.registry import hookimpl


@hookimpl
def gmat_sweep_register_pools(register: Callable[..., None]) -> None:
    register(
        "gmat_sweep_example.pool:ExamplePool",
        name="example",
        description="Worker processes from concurrent.futures (an example plugin).",
    )
