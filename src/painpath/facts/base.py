"""Shared building blocks of the patient-facts models.

Every fact is optional and ``None`` means *not recorded*: it is never read as "no". Booleans are
tri-state (``True`` / ``False`` / ``None``), numbers are strictly typed and range-checked, categorical
values are closed vocabularies, and unknown field names are rejected (``extra="forbid"``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic import StrictFloat as _StrictFloat

__all__ = ["FactModel", "Flag", "StrictBool", "StrictFloat", "StrictInt", "float_range", "int_range"]


def _two_places(value: float) -> float:
    return round(value, 2)


StrictFloat = Annotated[_StrictFloat, AfterValidator(_two_places)]
"""A strict real number kept to two decimal places, so every evaluator sees exactly the same value
(durable-rules' JSON parser also rejects exponent notation such as ``1e-05``)."""

Flag = StrictBool | None
"""A tri-state yes/no fact: ``True`` (present), ``False`` (explicitly absent), ``None`` (not asked)."""


def int_range(low: int, high: int) -> object:
    """A strict integer constrained to ``[low, high]`` (the instrument or physiological range)."""
    return Annotated[StrictInt, Field(ge=low, le=high)]


def float_range(low: float, high: float) -> object:
    """A strict real number constrained to ``[low, high]``."""
    return Annotated[StrictFloat, Field(ge=low, le=high)]


class FactModel(BaseModel):
    """Base of every facts model: unknown fields are errors, assignment is validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False, str_strip_whitespace=True)
