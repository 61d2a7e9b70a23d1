"""The Sandbox: one run of the mission sequence on clones of the configured objects.

Status codes follow ``Moderator::RunMission``: 1 success, -2 an exception while
initialising the sandbox (bad reference, invalid orbit, unwritable report), -5 an
exception while executing a command. The configured objects are never touched,
so every run of a loaded script starts from the same state.
"""

from __future__ import annotations

from . import _orbit
from ._base import GmatBase
from ._commands import Command, RunFailure
from ._log import MessageLog
from ._params import resolve
from ._report import ReportFile, ReportWriter
from ._script import check_resources, check_runnable
from ._spacecraft import Spacecraft
from ._types import APIException

__all__ = ["INIT_FAILED", "RUN_FAILED", "RUN_OK", "Sandbox"]

RUN_OK = 1
INIT_FAILED = -2
RUN_FAILED = -5


class Sandbox:
    """Clones the configuration, initialises it, and executes the commands."""

    def __init__(
        self, configured: dict[str, GmatBase], commands: list[Command], log: MessageLog
    ) -> None:
        self.objects: dict[str, GmatBase] = {n: o.clone() for n, o in configured.items()}
        self._commands = commands
        self._log = log
        self._writers: list[ReportWriter] = []
        self.initial_epochs: dict[str, float] = {}
        self._published = False

    def published_any(self) -> bool:
        return self._published

    def publish(self) -> None:
        """Hand the current state to every ReportFile (one row each)."""
        cache: dict[str, dict[str, float]] = {}
        try:
            for writer in self._writers:
                writer.publish(self.objects, self.initial_epochs, cache)
        except (_orbit.OrbitError, KeyError) as exc:
            raise RunFailure(f"a report parameter could not be computed: {exc}") from None
        self._published = True

    def _initialize(self) -> None:
        errors = check_resources(self.objects) + check_runnable(self.objects)
        for command in self._commands:
            try:
                command.check(self.objects.get)
            except (ValueError, APIException) as exc:
                errors.append(f"{command.GetGeneratingString()}: {exc}")
        if errors:
            raise RunFailure(errors[0])
        for obj in self.objects.values():
            if isinstance(obj, Spacecraft):
                try:
                    obj.Initialize()
                except APIException as exc:
                    raise RunFailure(str(exc)) from None
                self.initial_epochs[obj.name] = obj.epoch
        for obj in self.objects.values():
            if isinstance(obj, ReportFile):
                refs = [resolve(p, self.objects.get) for p in obj.parameters()]
                try:
                    self._writers.append(ReportWriter(obj, refs))
                except OSError as exc:
                    raise RunFailure(
                        f'ReportFile "{obj.name}" cannot open "{obj.text("Filename")}": {exc}'
                    ) from None

    def run(self) -> int:
        """Initialise and execute; errors are logged and turned into a status code."""
        try:
            self._initialize()
        except RunFailure as exc:
            self._close()
            self._log.error(f"Sandbox initialization failed: {exc}")
            return INIT_FAILED
        command: Command | None = None
        try:
            for command in self._commands:
                command.execute(self)
        except RunFailure as exc:
            name = command.GetTypeName() if command is not None else "Mission"
            self._log.error(f"{name} Command Exception: {exc}")
            return RUN_FAILED
        finally:
            self._close()
        return RUN_OK

    def _close(self) -> None:
        for writer in self._writers:
            writer.close()
