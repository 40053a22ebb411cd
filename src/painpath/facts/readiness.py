"""Readiness for self-management and the patient's preferences."""

from __future__ import annotations

from pydantic import Field

from painpath.facts.base import FactModel, Flag


class Readiness(FactModel):
    """How ready the patient is for a self-management approach, and what they prefer."""

    willing_to_try_self_management: Flag = Field(
        default=None, description="Willing to try the self-management approach (hope of relief is fine)."
    )
    willing_to_attend_group: Flag = None
    practical_barriers_to_attendance: Flag = Field(
        default=None, description="Travel, caring, work or other practical barriers to a group programme."
    )
    seeking_cure_only: Flag = Field(
        default=None, description="Wants only a medical cure and declines any self-management approach."
    )
    in_litigation: Flag = Field(default=None, description="Involved in litigation about the pain (not a barrier).")
    prefers_exercise: Flag = None
    young_adult_programme_available: Flag = Field(
        default=None, description="A young-adult (18-30) programme is available locally."
    )
