"""Who the patient is, as far as the rules need to know."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from painpath.facts.base import FactModel, StrictInt

Sex = Literal["female", "male", "other"]


class Demographics(FactModel):
    """Age and sex at the time of assessment."""

    age: StrictInt | None = Field(default=None, ge=0, le=120, description="Age in whole years.")
    sex: Sex | None = Field(default=None, description="Sex recorded in the record.")
