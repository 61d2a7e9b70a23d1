"""GMAT's integer enums and the API exception, with the values real gmatpy exposes.

``Gmat::ParameterType`` and ``Gmat::ObjectType`` are plain C++ enums that SWIG
exports as module-level integers; callers (gmat-run) compare against those
module attributes, so the numbers here follow the C++ declaration order.
"""

from __future__ import annotations

__all__ = ["OBJECT_TYPES", "PARAMETER_TYPES", "APIException"]


class APIException(Exception):
    """Raised by the engine for a rejected call (unknown field, bad value, ...)."""

    def GetDetails(self) -> str:
        """The message text, as ``GmatBaseException::GetDetails`` returns it."""
        return str(self)


# Gmat::ParameterType, in declaration order from 0.
_PARAMETER_TYPE_ORDER = (
    "INTEGER_TYPE",
    "UNSIGNED_INT_TYPE",
    "UNSIGNED_INTARRAY_TYPE",
    "INTARRAY_TYPE",
    "REAL_TYPE",
    "REAL_ELEMENT_TYPE",
    "STRING_TYPE",
    "STRINGARRAY_TYPE",
    "BOOLEAN_TYPE",
    "BOOLEANARRAY_TYPE",
    "RVECTOR_TYPE",
    "RMATRIX_TYPE",
    "TIME_TYPE",
    "OBJECT_TYPE",
    "OBJECTARRAY_TYPE",
    "ON_OFF_TYPE",
    "ENUMERATION_TYPE",
    "FILENAME_TYPE",
    "TypeCount",
)
PARAMETER_TYPES: dict[str, int] = {name: i for i, name in enumerate(_PARAMETER_TYPE_ORDER)}
PARAMETER_TYPES["UNKNOWN_PARAMETER_TYPE"] = -1

# Gmat::ObjectType, in declaration order from SPACECRAFT = 101.
_OBJECT_TYPE_ORDER = (
    "SPACECRAFT",
    "FORMATION",
    "SPACEOBJECT",
    "GROUND_STATION",
    "PLATE",
    "BURN",
    "IMPULSIVE_BURN",
    "FINITE_BURN",
    "COMMAND",
    "PROPAGATOR",
    "ODE_MODEL",
    "PHYSICAL_MODEL",
    "TRANSIENT_FORCE",
    "INTERPOLATOR",
    "SOLAR_SYSTEM",
    "SPACE_POINT",
    "CELESTIAL_BODY",
    "CALCULATED_POINT",
    "LIBRATION_POINT",
    "BARYCENTER",
    "ATMOSPHERE",
    "PARAMETER",
    "VARIABLE",
    "ARRAY",
    "STRING",
    "STOP_CONDITION",
    "SOLVER",
    "SUBSCRIBER",
    "REPORT_FILE",
    "XY_PLOT",
    "ORBIT_VIEW",
    "DYNAMIC_DATA_DISPLAY",
    "GROUNDTRACK",
    "EPHEMERIS_FILE",
    "PROP_SETUP",
    "FUNCTION",
    "FUEL_TANK",
    "THRUSTER",
    "CHEMICAL_THRUSTER",
    "ELECTRIC_THRUSTER",
    "CHEMICAL_FUEL_TANK",
    "ELECTRIC_FUEL_TANK",
    "FIELD_OF_VIEW",
    "CONICAL_FOV",
    "RECTANGULAR_FOV",
    "CUSTOM_FOV",
    "POWER_SYSTEM",
    "SOLAR_POWER_SYSTEM",
    "NUCLEAR_POWER_SYSTEM",
    "HARDWARE",
    "COORDINATE_SYSTEM",
    "AXIS_SYSTEM",
    "ATTITUDE",
    "MATH_NODE",
    "MATH_TREE",
    "BODY_FIXED_POINT",
    "EVENT",
    "EVENT_LOCATOR",
    "DATAINTERFACE_SOURCE",
    "MEASUREMENT_MODEL",
    "ERROR_MODEL",
    "DATASTREAM",
    "DATA_FILE",
    "OBTYPE",
    "DATA_FILTER",
    "INTERFACE",
    "MEDIA_CORRECTION",
    "IMAGER",
    "SENSOR",
    "RF_HARDWARE",
    "ANTENNA",
    "THRUST_SEGMENT",
    "REGION",
    "USER_DEFINED_OBJECT",
)
OBJECT_TYPES: dict[str, int] = {name: 101 + i for i, name in enumerate(_OBJECT_TYPE_ORDER)}
OBJECT_TYPES["USER_OBJECT_ID_NEEDED"] = OBJECT_TYPES["USER_DEFINED_OBJECT"] + 500
OBJECT_TYPES["GENERIC_OBJECT"] = OBJECT_TYPES["USER_OBJECT_ID_NEEDED"] + 1
OBJECT_TYPES["UNKNOWN_OBJECT"] = OBJECT_TYPES["GENERIC_OBJECT"] + 1

INTEGER_TYPE = PARAMETER_TYPES["INTEGER_TYPE"]
UNSIGNED_INT_TYPE = PARAMETER_TYPES["UNSIGNED_INT_TYPE"]
REAL_TYPE = PARAMETER_TYPES["REAL_TYPE"]
STRING_TYPE = PARAMETER_TYPES["STRING_TYPE"]
STRINGARRAY_TYPE = PARAMETER_TYPES["STRINGARRAY_TYPE"]
BOOLEAN_TYPE = PARAMETER_TYPES["BOOLEAN_TYPE"]
RVECTOR_TYPE = PARAMETER_TYPES["RVECTOR_TYPE"]
OBJECT_TYPE = PARAMETER_TYPES["OBJECT_TYPE"]
OBJECTARRAY_TYPE = PARAMETER_TYPES["OBJECTARRAY_TYPE"]
ON_OFF_TYPE = PARAMETER_TYPES["ON_OFF_TYPE"]
ENUMERATION_TYPE = PARAMETER_TYPES["ENUMERATION_TYPE"]
FILENAME_TYPE = PARAMETER_TYPES["FILENAME_TYPE"]

PARAMETER_TYPE_STRINGS: dict[int, str] = {
    INTEGER_TYPE: "Integer",
    UNSIGNED_INT_TYPE: "UnsignedInt",
    REAL_TYPE: "Real",
    STRING_TYPE: "String",
    STRINGARRAY_TYPE: "StringArray",
    BOOLEAN_TYPE: "Boolean",
    RVECTOR_TYPE: "Rvector",
    OBJECT_TYPE: "Object",
    OBJECTARRAY_TYPE: "ObjectArray",
    ON_OFF_TYPE: "OnOff",
    ENUMERATION_TYPE: "Enumeration",
    FILENAME_TYPE: "Filename",
}
