"""The ``Spacecraft`` resource: epoch, orbit state, and its many script fields.

As in GMAT, the orbit is held as given while the script is parsed (Cartesian or
Keplerian, whichever was set last) and becomes an EarthMJ2000Eq Cartesian state
at ``Initialize``; from then on every Keplerian read converts from Cartesian (so
``SMA`` may read back as ``8000.000000000001``) and every Keplerian write
converts, replaces the one element, and converts back.
"""

from __future__ import annotations

from typing import ClassVar

from . import _orbit, _time
from ._base import GmatBase
from ._types import (
    ENUMERATION_TYPE,
    INTEGER_TYPE,
    OBJECT_TYPE,
    OBJECT_TYPES,
    OBJECTARRAY_TYPE,
    REAL_TYPE,
    STRING_TYPE,
    APIException,
)
from ._values import FieldSpec, Value

__all__ = ["Spacecraft"]

_CARTESIAN = ("X", "Y", "Z", "VX", "VY", "VZ")
_KEPLERIAN = ("SMA", "ECC", "INC", "RAAN", "AOP", "TA")
_ANOMALIES = ("TA", "MA", "EA", "HA")
_DERIVED = ("RMAG", "VMAG", "RadPer", "RadApo")

_REAL_DEFAULTS: dict[str, float] = {
    "DryMass": 850.0,
    "Cd": 2.2,
    "Cr": 1.8,
    "CdSigma": 1.0e70,
    "CrSigma": 1.0e70,
    "DragArea": 15.0,
    "SRPArea": 1.0,
    "SPADSRPScaleFactor": 1.0,
    "SPADSRPScaleFactorSigma": 1.0e70,
    "SPADDragScaleFactor": 1.0,
    "SPADDragScaleFactorSigma": 1.0e70,
    "AtmosDensityScaleFactor": 1.0,
    "AtmosDensityScaleFactorSigma": 1.0e70,
    "ModelOffsetX": 0.0,
    "ModelOffsetY": 0.0,
    "ModelOffsetZ": 0.0,
    "ModelRotationX": 0.0,
    "ModelRotationY": 0.0,
    "ModelRotationZ": 0.0,
    "ModelScale": 1.0,
}
_TEXT_DEFAULTS: dict[str, str] = {
    "Id": "SatId",
    "Attitude": "CoordinateSystemFixed",
    "OrbitColor": "Red",
    "TargetColor": "Teal",
    "OrbitErrorCovariance": "[ 1e+70 0 0 0 0 0 ; 0 1e+70 0 0 0 0 ; 0 0 1e+70 0 0 0 ; "
    "0 0 0 1e+70 0 0 ; 0 0 0 0 1e+70 0 ; 0 0 0 0 0 1e+70 ]",
    "SPADSRPInterpolationMethod": "Bilinear",
    "SPADDragInterpolationMethod": "Bilinear",
    "ExtendedMassPropertiesModel": "None",
    "ModelFile": "aura.3ds",
    "AttitudeDisplayStateType": "Quaternion",
    "AttitudeRateDisplayStateType": "AngularVelocity",
    "AttitudeCoordinateSystem": "EarthMJ2000Eq",
    "EulerAngleSequence": "321",
}
_OPAQUE = (
    "OrbitColor",
    "TargetColor",
    "OrbitErrorCovariance",
    "SPADSRPInterpolationMethod",
    "SPADDragInterpolationMethod",
    "ExtendedMassPropertiesModel",
    "ModelFile",
    "AttitudeDisplayStateType",
    "AttitudeRateDisplayStateType",
    "AttitudeCoordinateSystem",
    "EulerAngleSequence",
)

_PHYSICAL = ("DryMass", "Cd", "Cr", "CdSigma", "CrSigma", "DragArea", "SRPArea")
_HEAD = (FieldSpec("Epoch", STRING_TYPE),)
_TAIL = (
    FieldSpec("DisplayStateType", ENUMERATION_TYPE, ("Cartesian", "Keplerian")),
    FieldSpec("AnomalyType", ENUMERATION_TYPE, _ANOMALIES),
    FieldSpec("CoordinateSystem", OBJECT_TYPE),
    FieldSpec("DateFormat", ENUMERATION_TYPE, _time.EPOCH_FORMATS),
    *(FieldSpec(n, REAL_TYPE) for n in _PHYSICAL),
    FieldSpec("Tanks", OBJECTARRAY_TYPE),
    FieldSpec("Thrusters", OBJECTARRAY_TYPE),
    FieldSpec("TotalMass", REAL_TYPE, read_only=True),
    FieldSpec("Id", STRING_TYPE),
    FieldSpec("Attitude", OBJECT_TYPE),
    FieldSpec("NAIFId", INTEGER_TYPE),
    FieldSpec("NAIFIdReferenceFrame", INTEGER_TYPE),
    *(FieldSpec(n, REAL_TYPE) for n in _REAL_DEFAULTS if n not in _PHYSICAL),
    *(FieldSpec(n, STRING_TYPE, opaque=True) for n in _OPAQUE),
)


class Spacecraft(GmatBase):
    """A spacecraft with an Earth-centred two-body orbit state."""

    TYPE_NAME = "Spacecraft"
    TYPE_IDS = (
        OBJECT_TYPES["SPACECRAFT"],
        OBJECT_TYPES["SPACEOBJECT"],
        OBJECT_TYPES["SPACE_POINT"],
    )
    ANCESTRY = ("SpaceObject", "SpacePoint", "GmatBase")
    DEFAULTS: ClassVar[dict[str, Value]] = {
        "DisplayStateType": "Cartesian",
        "AnomalyType": "TA",
        "CoordinateSystem": "EarthMJ2000Eq",
        "DateFormat": "TAIModJulian",
        "Tanks": [],
        "Thrusters": [],
        "NAIFId": -10000001,
        "NAIFIdReferenceFrame": -9000001,
        **_REAL_DEFAULTS,
        **_TEXT_DEFAULTS,
    }

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._rep = "Cartesian"
        self._elements: list[float] = [7100.0, 0.0, 1300.0, 0.0, 7.35, 1.0]
        self._epoch = _time.to_a1(21545.0, "TAI")
        self._epoch_text: tuple[str, str] | None = ("21545", "TAIModJulian")
        self._initialized = False

    # --- schema ----------------------------------------------------------------

    def _element_labels(self) -> tuple[str, ...]:
        if self._values["DisplayStateType"] == "Keplerian":
            return (*_KEPLERIAN[:5], str(self._values["AnomalyType"]))
        return _CARTESIAN

    def field_specs(self) -> list[FieldSpec]:
        elements = [FieldSpec(label, REAL_TYPE) for label in self._element_labels()]
        return [*_HEAD, *elements, *_TAIL]

    def extra_spec(self, name: str) -> FieldSpec | None:
        if name in _CARTESIAN or name in _KEPLERIAN or name in _ANOMALIES:
            return FieldSpec(name, REAL_TYPE)
        if name in _DERIVED:
            return FieldSpec(name, REAL_TYPE, read_only=True)
        if name == "StateType":
            return FieldSpec(name, ENUMERATION_TYPE, ("Cartesian", "Keplerian"))
        return None

    # --- state -----------------------------------------------------------------

    @property
    def epoch(self) -> float:
        """Epoch as an A.1 Modified Julian Date."""
        return self._epoch

    def cartesian(self) -> list[float]:
        """The EarthMJ2000Eq Cartesian state.

        Raises:
            APIException: the Keplerian elements set so far are not a valid orbit.
        """
        if self._rep == "Cartesian":
            return list(self._elements)
        try:
            return _orbit.kep_to_cart(self._elements)
        except _orbit.OrbitError as exc:
            raise APIException(f'Spacecraft "{self._name}": {exc}') from None

    def keplerian(self) -> list[float]:
        """``[SMA, ECC, INC, RAAN, AOP, TA]`` of the current state."""
        if self._rep == "Keplerian":
            return list(self._elements)
        try:
            return _orbit.cart_to_kep(self.cartesian())
        except _orbit.OrbitError as exc:
            raise APIException(f'Spacecraft "{self._name}": {exc}') from None

    def set_state(self, epoch: float, cartesian: list[float]) -> None:
        """Replace epoch and Cartesian state (used while the mission runs)."""
        self._epoch = epoch
        self._epoch_text = None
        self._rep = "Cartesian"
        self._elements = list(cartesian)

    def Initialize(self) -> bool:
        """Resolve the orbit to its Cartesian state, as GMAT does before a run.

        Raises:
            APIException: the elements do not form a valid orbit.
        """
        self._elements = self.cartesian()
        self._rep = "Cartesian"
        self._initialized = True
        return True

    # --- field access ----------------------------------------------------------

    def get_value(self, name: str) -> Value:
        if name == "Epoch":
            date_format = str(self._values["DateFormat"])
            if self._epoch_text is not None and self._epoch_text[1] == date_format:
                return self._epoch_text[0]
            return _time.format_epoch(self._epoch, date_format)
        if name == "StateType":
            return self._values["DisplayStateType"]
        if name == "TotalMass":
            return self._values["DryMass"]
        if name in _CARTESIAN:
            return self.cartesian()[_CARTESIAN.index(name)]
        if name in _KEPLERIAN:
            return self.keplerian()[_KEPLERIAN.index(name)]
        if name in _ANOMALIES or name in _DERIVED:
            try:
                return _orbit.orbit_quantities(self.cartesian())[name]
            except _orbit.OrbitError as exc:
                raise APIException(f'Spacecraft "{self._name}": {exc}') from None
        return super().get_value(name)

    def set_value(self, spec: FieldSpec, value: Value) -> None:
        name = spec.name
        if name == "Epoch":
            self._set_epoch(str(value))
        elif name == "StateType":
            self._values["DisplayStateType"] = value
        elif name in _CARTESIAN or name in _KEPLERIAN or name in _ANOMALIES:
            assert isinstance(value, float)
            self._set_element(name, value)
        else:
            super().set_value(spec, value)

    def _set_epoch(self, text: str) -> None:
        date_format = str(self._values["DateFormat"])
        try:
            epoch = _time.parse_epoch(text, date_format)
        except ValueError as exc:
            raise APIException(
                f'The value of "{text}" for field "Epoch" on object "{self._name}" is not an '
                f"allowed value: {exc}"
            ) from None
        self._epoch = epoch
        self._epoch_text = (text, date_format)

    def _set_element(self, name: str, value: float) -> None:
        saved = (self._rep, list(self._elements))
        try:
            if name in _CARTESIAN:
                self._elements = self.cartesian()
                self._rep = "Cartesian"
                self._elements[_CARTESIAN.index(name)] = value
            else:
                self._elements = self.keplerian()
                self._rep = "Keplerian"
                if name in _KEPLERIAN:
                    self._elements[_KEPLERIAN.index(name)] = value
                else:
                    self._elements[5] = self._true_anomaly_from(name, value)
            if self._initialized:
                self._elements = self.cartesian()
                self._rep = "Cartesian"
        except (APIException, _orbit.OrbitError) as exc:
            self._rep, self._elements = saved
            raise APIException(
                f'The value of "{value!r}" for field "{name}" on object "{self._name}" is '
                f"not an allowed value: {exc}"
            ) from None

    def _true_anomaly_from(self, name: str, value: float) -> float:
        ecc = self._elements[1]
        if name == "TA":
            return value
        if name == "MA":
            return _orbit.mean_to_true(value, ecc)
        return _orbit.eccentric_to_true(value, ecc)
