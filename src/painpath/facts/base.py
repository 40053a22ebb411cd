"""Shared building blocks of the patient-facts models.

Every fact is optional and ``None`` means *not recorded*: it is never read as "no". Booleans are
tri-state (``True`` / ``False`` / ``None``), numbers are strictly typed and range-checked, categorical
values are closed vocabularies, and unknown field names are rejected (``extra="forbid"``).
"""

from __future__ import annotations

import datetime
import functools
import re
import types
import typing
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
)
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


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""A calendar date as ISO 8601 / RFC 3339 ``full-date`` text (``2026-11-18``): the only accepted form."""


def _is_date_annotation(annotation: Any) -> bool:
    if annotation is datetime.date:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_date_annotation(a) for a in typing.get_args(annotation))
    return False


DATE_FIELD_NAMES = frozenset({"assessment_date", "date"})
"""The names of every date field of the facts models (checked when each model is defined): the
strict-date validator is attached to these names only."""


@functools.cache
def _date_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, f in model.model_fields.items() if _is_date_annotation(f.annotation))


class FactModel(BaseModel):
    """Base of every facts model: unknown fields are errors, assignment is validated.

    Dates are strict: ISO 8601 text (``YYYY-MM-DD``) or a ``datetime.date`` (from YAML or code), never
    a number or a numeric string (pydantic would otherwise read those as Unix times).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False, str_strip_whitespace=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        unchecked = _date_fields(cls) - DATE_FIELD_NAMES
        if unchecked:
            # the strict-date check is attached by name (a validator on every field, which this
            # replaces, cost a Python call per field given); a new date field must be named here
            raise TypeError(f"{cls.__name__}: date field(s) {sorted(unchecked)} are not in DATE_FIELD_NAMES")

    @field_validator(*DATE_FIELD_NAMES, mode="before", check_fields=False)
    @classmethod
    def _strict_dates(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return value
        if isinstance(value, datetime.datetime) or not (
            isinstance(value, datetime.date) or (isinstance(value, str) and ISO_DATE.fullmatch(value))
        ):
            raise ValueError("a date must be an ISO 8601 string, YYYY-MM-DD")
        return value
