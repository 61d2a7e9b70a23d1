"""The simple GMAT resources: Variable, String, ForceModel, Propagator, ImpulsiveBurn,
CoordinateSystem, and the GUI-only subscribers (plots) that headless GMAT ignores.
"""

from __future__ import annotations

from typing import ClassVar

from ._base import GmatBase
from ._types import (
    BOOLEAN_TYPE,
    ENUMERATION_TYPE,
    INTEGER_TYPE,
    OBJECT_TYPE,
    OBJECT_TYPES,
    OBJECTARRAY_TYPE,
    ON_OFF_TYPE,
    REAL_TYPE,
    STRING_TYPE,
)
from ._values import FieldSpec, Value

__all__ = [
    "CELESTIAL_BODIES",
    "CoordinateSystem",
    "ForceModel",
    "ImpulsiveBurn",
    "InertSubscriber",
    "PropSetup",
    "StringObject",
    "Variable",
]

CELESTIAL_BODIES = (
    "Sun",
    "Mercury",
    "Venus",
    "Earth",
    "Luna",
    "Mars",
    "Jupiter",
    "Saturn",
    "Uranus",
    "Neptune",
    "Pluto",
)

INTEGRATORS = (
    "RungeKutta89",
    "RungeKutta68",
    "RungeKutta56",
    "PrinceDormand45",
    "PrinceDormand78",
    "AdamsBashforthMoulton",
    "BulirschStoer",
)
EPHEMERIS_PROPAGATORS = ("SPK", "Code500", "STK", "CCSDS-OEM")


class Variable(GmatBase):
    """``Create Variable x``: one real number, addressed as ``x.Value``."""

    TYPE_NAME = "Variable"
    TYPE_IDS = (OBJECT_TYPES["VARIABLE"], OBJECT_TYPES["PARAMETER"])
    ANCESTRY = ("Parameter", "GmatBase")
    FIELDS = (FieldSpec("Value", REAL_TYPE),)
    DEFAULTS: ClassVar[dict[str, Value]] = {"Value": 0.0}

    @property
    def value(self) -> float:
        return self.real("Value")

    def script_lines(self) -> list[str]:
        return [f"Create Variable {self._name};", f"GMAT {self._name} = {self.GetField('Value')};"]


class StringObject(GmatBase):
    """``Create String s``: one text value, addressed as ``s.Value``."""

    TYPE_NAME = "String"
    TYPE_IDS = (OBJECT_TYPES["STRING"], OBJECT_TYPES["PARAMETER"])
    ANCESTRY = ("Parameter", "GmatBase")
    FIELDS = (FieldSpec("Value", STRING_TYPE),)
    DEFAULTS: ClassVar[dict[str, Value]] = {"Value": ""}


_GRAVITY_SUBFIELDS = {
    "Degree": INTEGER_TYPE,
    "Order": INTEGER_TYPE,
    "StmLimit": INTEGER_TYPE,
    "PotentialFile": STRING_TYPE,
    "TideModel": STRING_TYPE,
    "TideFile": STRING_TYPE,
}
_DRAG_SUBFIELDS = {
    "AtmosphereModel": STRING_TYPE,
    "HistoricWeatherSource": STRING_TYPE,
    "PredictedWeatherSource": STRING_TYPE,
    "CSSISpaceWeatherFile": STRING_TYPE,
    "SchattenFile": STRING_TYPE,
    "SchattenErrorModel": STRING_TYPE,
    "SchattenTimingModel": STRING_TYPE,
    "DragModel": STRING_TYPE,
    "F107": REAL_TYPE,
    "F107A": REAL_TYPE,
    "MagneticIndex": REAL_TYPE,
}
_SRP_SUBFIELDS = {
    "Flux": REAL_TYPE,
    "Flux_Pressure": REAL_TYPE,
    "Nominal_Sun": REAL_TYPE,
    "SRPModel": STRING_TYPE,
}


class ForceModel(GmatBase):
    """``Create ForceModel fm``. The stand-in always integrates Earth point-mass gravity;
    gravity-field, drag and SRP settings are accepted and kept, not modelled."""

    TYPE_NAME = "ForceModel"
    TYPE_IDS = (OBJECT_TYPES["ODE_MODEL"],)
    ANCESTRY = ("ODEModel", "GmatBase")
    FIELDS = (
        FieldSpec("CentralBody", OBJECT_TYPE, CELESTIAL_BODIES),
        FieldSpec("PrimaryBodies", OBJECTARRAY_TYPE),
        FieldSpec("PolyhedronBodies", OBJECTARRAY_TYPE),
        FieldSpec("PointMasses", OBJECTARRAY_TYPE),
        FieldSpec("Drag", STRING_TYPE),
        FieldSpec("SRP", ON_OFF_TYPE),
        FieldSpec("RelativisticCorrection", ON_OFF_TYPE),
        FieldSpec(
            "ErrorControl",
            ENUMERATION_TYPE,
            ("None", "RSSStep", "RSSState", "LargestStep", "LargestState"),
        ),
        FieldSpec("UserDefined", OBJECTARRAY_TYPE),
    )
    DEFAULTS: ClassVar[dict[str, Value]] = {
        "CentralBody": "Earth",
        "PrimaryBodies": [],
        "PolyhedronBodies": [],
        "PointMasses": [],
        "Drag": "None",
        "SRP": "Off",
        "RelativisticCorrection": "Off",
        "ErrorControl": "RSSStep",
        "UserDefined": [],
    }

    def extra_spec(self, name: str) -> FieldSpec | None:
        parts = name.split(".")
        table: dict[str, int] = {}
        if parts[0] == "GravityField" and len(parts) == 3:
            table = _GRAVITY_SUBFIELDS
        elif parts[0] == "Drag" and len(parts) == 2:
            table = _DRAG_SUBFIELDS
        elif parts[0] == "SRP" and len(parts) == 2:
            table = _SRP_SUBFIELDS
        ptype = table.get(parts[-1])
        return None if ptype is None else FieldSpec(name, ptype)

    def get_value(self, name: str) -> Value:
        if name in self._values:
            return self._values[name]
        ptype = self.spec(name).ptype
        return 0 if ptype == INTEGER_TYPE else 0.0 if ptype == REAL_TYPE else ""


class PropSetup(GmatBase):
    """``Create Propagator p``. Fixed steps of ``min(InitialStepSize, MaxStep)`` seconds."""

    TYPE_NAME = "PropSetup"
    TYPE_IDS = (OBJECT_TYPES["PROP_SETUP"],)
    ANCESTRY = ("Propagator", "GmatBase")
    FIELDS = (
        FieldSpec("FM", OBJECT_TYPE),
        FieldSpec("Type", ENUMERATION_TYPE, INTEGRATORS + EPHEMERIS_PROPAGATORS),
        FieldSpec("InitialStepSize", REAL_TYPE),
        FieldSpec("Accuracy", REAL_TYPE),
        FieldSpec("MinStep", REAL_TYPE),
        FieldSpec("MaxStep", REAL_TYPE),
        FieldSpec("MaxStepAttempts", INTEGER_TYPE),
        FieldSpec("StopIfAccuracyIsViolated", BOOLEAN_TYPE),
    )
    DEFAULTS: ClassVar[dict[str, Value]] = {
        "FM": "",
        "Type": "RungeKutta89",
        "InitialStepSize": 60.0,
        "Accuracy": 9.999999999999999e-12,
        "MinStep": 0.001,
        "MaxStep": 2700.0,
        "MaxStepAttempts": 50,
        "StopIfAccuracyIsViolated": True,
    }

    def step_size(self) -> float:
        """The fixed step (s) the stand-in takes: ``min(|InitialStepSize|, |MaxStep|)``."""
        return min(abs(self.real("InitialStepSize")), abs(self.real("MaxStep")))


class ImpulsiveBurn(GmatBase):
    """``Create ImpulsiveBurn b``: a delta-v (km/s) in VNB or inertial axes."""

    TYPE_NAME = "ImpulsiveBurn"
    TYPE_IDS = (OBJECT_TYPES["IMPULSIVE_BURN"], OBJECT_TYPES["BURN"])
    ANCESTRY = ("Burn", "GmatBase")
    FIELDS = (
        FieldSpec("CoordinateSystem", OBJECT_TYPE),
        FieldSpec("Origin", OBJECT_TYPE, CELESTIAL_BODIES),
        FieldSpec("Axes", ENUMERATION_TYPE, ("VNB", "LVLH", "MJ2000Eq", "SpacecraftBody")),
        FieldSpec("Element1", REAL_TYPE),
        FieldSpec("Element2", REAL_TYPE),
        FieldSpec("Element3", REAL_TYPE),
        FieldSpec("DecrementMass", BOOLEAN_TYPE),
        FieldSpec("Tank", OBJECTARRAY_TYPE),
        FieldSpec("Isp", REAL_TYPE),
        FieldSpec("GravitationalAccel", REAL_TYPE),
        FieldSpec("VectorFormat", ENUMERATION_TYPE, ("Cartesian", "Spherical")),
    )
    DEFAULTS: ClassVar[dict[str, Value]] = {
        "CoordinateSystem": "Local",
        "Origin": "Earth",
        "Axes": "VNB",
        "Element1": 0.0,
        "Element2": 0.0,
        "Element3": 0.0,
        "DecrementMass": False,
        "Tank": [],
        "Isp": 300.0,
        "GravitationalAccel": 9.81,
        "VectorFormat": "Cartesian",
    }
    _ALIASES: ClassVar[dict[str, str]] = {"V": "Element1", "N": "Element2", "B": "Element3"}

    def extra_spec(self, name: str) -> FieldSpec | None:
        return FieldSpec(name, REAL_TYPE) if name in self._ALIASES else None

    def get_value(self, name: str) -> Value:
        return super().get_value(self._ALIASES.get(name, name))

    def set_value(self, spec: FieldSpec, value: Value) -> None:
        target = self._ALIASES.get(spec.name, spec.name)
        super().set_value(FieldSpec(target, spec.ptype), value)

    def components(self) -> tuple[float, float, float]:
        return (self.real("Element1"), self.real("Element2"), self.real("Element3"))


class CoordinateSystem(GmatBase):
    """``Create CoordinateSystem cs`` (and GMAT's four default Earth systems)."""

    TYPE_NAME = "CoordinateSystem"
    TYPE_IDS = (OBJECT_TYPES["COORDINATE_SYSTEM"],)
    ANCESTRY = ("CoordinateBase", "GmatBase")
    FIELDS = (
        FieldSpec("Origin", OBJECT_TYPE),
        FieldSpec(
            "Axes",
            ENUMERATION_TYPE,
            (
                "MJ2000Eq",
                "MJ2000Ec",
                "ICRF",
                "BodyFixed",
                "BodyInertial",
                "TOEEq",
                "TOEEc",
                "MOEEq",
                "MOEEc",
                "TODEq",
                "TODEc",
                "MODEq",
                "MODEc",
                "ObjectReferenced",
                "Equator",
                "GSE",
                "GSM",
                "Topocentric",
                "LocalAlignedConstrained",
            ),
        ),
        FieldSpec("Primary", STRING_TYPE, opaque=True),
        FieldSpec("Secondary", STRING_TYPE, opaque=True),
        FieldSpec("XAxis", STRING_TYPE, opaque=True),
        FieldSpec("YAxis", STRING_TYPE, opaque=True),
        FieldSpec("ZAxis", STRING_TYPE, opaque=True),
    )
    DEFAULTS: ClassVar[dict[str, Value]] = {
        "Origin": "Earth",
        "Axes": "MJ2000Eq",
        "Primary": "",
        "Secondary": "",
        "XAxis": "",
        "YAxis": "",
        "ZAxis": "",
    }

    def __init__(self, name: str, origin: str = "Earth", axes: str = "MJ2000Eq") -> None:
        super().__init__(name)
        self._values["Origin"] = origin
        self._values["Axes"] = axes

    def is_earth_mj2000eq(self) -> bool:
        """True when this system is (numerically) EarthMJ2000Eq."""
        return self._values["Origin"] == "Earth" and self._values["Axes"] in ("MJ2000Eq", "ICRF")


class InertSubscriber(GmatBase):
    """A GUI plot (OrbitView, GroundTrackPlot, XYPlot, ...): any field is accepted and kept;
    headless GMAT draws nothing and writes no file."""

    TYPE_IDS = (OBJECT_TYPES["SUBSCRIBER"],)
    ANCESTRY = ("Subscriber", "GmatBase")

    def __init__(self, name: str, type_name: str) -> None:
        super().__init__(name)
        self._type_name = type_name

    def GetTypeName(self) -> str:
        return self._type_name

    def field_specs(self) -> list[FieldSpec]:
        return [FieldSpec(n, STRING_TYPE, opaque=True) for n in self._values]

    def extra_spec(self, name: str) -> FieldSpec | None:
        return FieldSpec(name, STRING_TYPE, opaque=True)

    def get_value(self, name: str) -> Value:
        return self._values.get(name, "")
