"""Function, fatigue, self-care and work."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from painpath.facts.base import FactModel, Flag, StrictFloat

WorkStatus = Literal[
    "working",
    "working_reduced",
    "off_sick",
    "unemployed",
    "retired",
    "student",
    "homemaker",
    "unable_to_work",
]


class Function(FactModel):
    """Day-to-day function and work participation."""

    independent_self_care: Flag = Field(default=None, description="Can wash, dress and care for self.")
    independent_mobility: Flag = Field(default=None, description="Can mobilise independently (aids allowed).")
    profound_fatigue: Flag = Field(default=None, description="Fatigue so severe it prevents sustained activity.")
    housebound: Flag = None
    able_to_attend_outpatient_group: Flag = Field(
        default=None, description="Physically able to attend a weekly outpatient group session."
    )
    work_status: WorkStatus | None = None
    weeks_off_work: StrictFloat | None = Field(default=None, ge=0, le=5200)
