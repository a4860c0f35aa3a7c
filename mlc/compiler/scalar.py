"""Theano's ``theano.scalar`` names that ported programs use: ``upcast`` and the dtype lists."""
from .types import FLOAT_DTYPES, upcast  # noqa: F401

float_types = FLOAT_DTYPES
int_types = ("int8", "int16", "int32", "int64")
uint_types = ("uint8", "uint16", "uint32", "uint64")
discrete_types = ("bool",) + int_types + uint_types
continuous_types = FLOAT_DTYPES

__all__ = ["upcast", "float_types", "int_types", "uint_types", "discrete_types", "continuous_types"]
