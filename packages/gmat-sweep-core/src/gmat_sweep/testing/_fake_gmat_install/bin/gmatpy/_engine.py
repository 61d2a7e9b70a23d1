"""The engine behind the module-level gmatpy functions (GMAT's Moderator).

One instance per process, like GMAT's singleton Moderator: the configured
objects of the last loaded script, its command sequence, the log, and the
knobs read from the install's config file.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from . import _config
from ._base import GmatBase
from ._commands import BeginMissionSequence, Command, NoOp
from ._log import MessageLog
from ._resources import CoordinateSystem, StringObject, Variable
from ._sandbox import RUN_FAILED, RUN_OK, Sandbox
from ._script import parse_script
from ._types import OBJECT_TYPES, APIException

__all__ = ["HUNG_PIDS", "Engine"]

#: At the install root: "pid start-time" of every process a "hang" rule stopped.
HUNG_PIDS = "hung.pids"

_KERNELS = (
    "planetary_ephem/spk/gmatpy_de405_all_planets.bsp",
    "planetary_coeff/SPICEPlanetaryConstantsKernel.tpc",
    "time/SPICELeapSecondKernel.tls",
    "planetary_coeff/SPICEEarthPredictedKernel.bpc",
    "planetary_coeff/SPICEEarthCurrentKernel.bpc",
    "planetary_coeff/earth_latest_high_prec.bpc",
    "planetary_coeff/SPICELunaCurrentKernel.bpc",
    "planetary_coeff/SPICELunaFrameKernel.tf",
)
_ALL_OBJECTS = OBJECT_TYPES["UNKNOWN_OBJECT"]


def _default_objects() -> dict[str, GmatBase]:
    """The coordinate systems GMAT configures before any script is read."""
    return {
        "EarthMJ2000Eq": CoordinateSystem("EarthMJ2000Eq", "Earth", "MJ2000Eq"),
        "EarthMJ2000Ec": CoordinateSystem("EarthMJ2000Ec", "Earth", "MJ2000Ec"),
        "EarthFixed": CoordinateSystem("EarthFixed", "Earth", "BodyFixed"),
        "EarthICRF": CoordinateSystem("EarthICRF", "Earth", "ICRF"),
    }


class Engine:
    """Configured objects, mission sequence and run machinery of one process."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.log = MessageLog()
        self.objects: dict[str, GmatBase] = _default_objects()
        self.commands: list[Command] = []
        self.ready = False
        self.last_run: dict[str, GmatBase] = {}

    # --- setup and loading -------------------------------------------------------

    def setup(self, startup_file: str) -> None:
        """Read the startup file and pay the configured bootstrap delay.

        Raises:
            APIException: the startup file is missing or the config is invalid.
        """
        if startup_file and not Path(startup_file).is_file():
            raise APIException(f"The startup file {startup_file} does not exist")
        try:
            config = _config.load_config(self.bin_dir)
        except (ValueError, KeyError) as exc:
            raise APIException(f"Invalid stand-in configuration: {exc}") from None
        if config.bootstrap_delay_s > 0.0:
            time.sleep(config.bootstrap_delay_s)
        self.ready = True

    def clear(self) -> None:
        """Forget the loaded script; GMAT's default objects remain."""
        self.objects = _default_objects()
        self.commands = []
        self.last_run = {}

    def load_script(self, path: str) -> bool:
        """Replace the configuration with the script at ``path``; False on any error."""
        self.clear()
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            self.log.error(f'Interpreter Exception: cannot read the script file "{path}": {exc}')
            return False
        parsed = parse_script(text, self.objects)
        self.objects = parsed.objects
        self.commands = parsed.commands
        for message in parsed.errors:
            self.log.error(message)
        if parsed.errors:
            self.log.show(f'\nErrors were found in the script named "{path}"\n')
            self.commands = []
            return False
        return True

    # --- object access -------------------------------------------------------------

    def get_object(self, name: str) -> GmatBase:
        """The configured object ``name``.

        Raises:
            AttributeError: no such object (what real gmatpy raises: it calls a method
                on the NULL pointer the lookup returned).
        """
        obj = self.objects.get(name)
        if obj is None:
            raise AttributeError("'NoneType' object has no attribute 'GetTypeName'")
        return obj

    def list_objects(self, type_id: int) -> tuple[str, ...]:
        return tuple(
            name
            for name, obj in self.objects.items()
            if type_id == _ALL_OBJECTS or obj.IsOfType(type_id)
        )

    def first_command(self) -> Command:
        head = NoOp()
        begin = BeginMissionSequence("BeginMissionSequence;")
        head.next = begin
        node: Command = begin
        for command in self.commands:
            node.next = command
            node = command
        node.next = None
        return head

    # --- running ---------------------------------------------------------------------

    def read_path(self, path: str) -> float | int | str | bool | None:
        """Value of a dotted path (``Sat.SMA``, ``TOF``, ``TOF.Value``) or None."""
        head, _, rest = path.partition(".")
        obj = self.objects.get(head)
        if obj is None:
            return None
        if not rest:
            if not isinstance(obj, (Variable, StringObject)):
                return None
            rest = "Value"
        try:
            obj.spec(rest)
            value = obj.get_value(rest)
        except (APIException, KeyError):
            return None
        return None if isinstance(value, list) else value

    def run_script(self) -> int:
        """Run the loaded mission: knobs first, then the sandbox. Returns a status code."""
        started = time.perf_counter()
        try:
            config = _config.load_config(self.bin_dir)
        except (ValueError, KeyError) as exc:
            self.log.error(f"Invalid stand-in configuration: {exc}")
            return -1
        self.log.show("Running mission...\n")
        self.log.show("Successfully set Planetary Source to use: DE405\n" * 2)
        data = self.bin_dir.parent / "data"
        self.log.show("".join(f"Kernel {data / k} has been loaded.\n" for k in _KERNELS))
        matching = [rule for rule in config.rules if rule.matches(self.read_path)]
        for rule in config.rules:
            unknown = [p for p in rule.when if self.read_path(p) is None]
            if unknown:
                sys.stderr.write(f"fake gmatpy: rule path(s) not found: {', '.join(unknown)}\n")
        _config.busy_wait(config.run_cost_s)
        for rule in matching:
            if rule.action == "sleep":
                _config.busy_wait(rule.seconds)
            elif rule.action == "wait":
                time.sleep(rule.seconds)
            elif rule.action == "fail":
                self.log.error(
                    "Propagate Command Exception: injected failure (fake GMAT rule matched "
                    f"{rule.describe()})"
                )
                return RUN_FAILED
            elif rule.action == "crash":
                self._crash()
            elif rule.action == "gate":
                if not self._through_gate(rule):
                    return RUN_FAILED
            elif rule.action == "hang":
                self._record_hang()
                self.log.flush()
                while True:
                    time.sleep(3600.0)
        sandbox = Sandbox(self.objects, self.commands, self.log)
        status = sandbox.run()
        self.last_run = sandbox.objects
        if status == RUN_OK:
            elapsed = time.perf_counter() - started
            self.log.show(f"\nMission run completed.\n===> Total Run Time: {elapsed:.3f} seconds\n")
        return status

    def _through_gate(self, rule: _config.Rule) -> bool:
        """Idle until ``rule.path`` exists; False (and a log line) after ``rule.seconds``."""
        gate = Path(rule.path)
        deadline = time.monotonic() + rule.seconds
        while not gate.exists():
            if time.monotonic() > deadline:
                self.log.error(
                    f"Propagate Command Exception: the gate {gate} did not open within "
                    f"{rule.seconds:g} s (fake GMAT rule matched {rule.describe()})"
                )
                return False
            time.sleep(0.02)
        return True

    def _record_hang(self) -> None:
        """Append this process's pid and start time to ``hung.pids`` at the install root,
        so that a test can check the process a timeout was meant to end is gone."""
        try:
            start = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]
        except OSError:
            start = ""
        with open(self.bin_dir.parent / HUNG_PIDS, "a", encoding="utf-8") as record:
            record.write(f"{os.getpid()} {start}\n")

    def _crash(self) -> None:
        """Die like a segfault in the engine: SIGSEGV with default disposition."""
        self.log.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        sigsegv = getattr(signal, "SIGSEGV", None)
        if sigsegv is not None:
            signal.signal(sigsegv, signal.SIG_DFL)
            os.kill(os.getpid(), sigsegv)
            time.sleep(5.0)
        os.abort()
