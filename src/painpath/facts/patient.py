"""The root model: everything known about one patient at one point in time."""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import Field, model_validator

from painpath.facts.base import FactModel
from painpath.facts.care import Care
from painpath.facts.demographics import Demographics
from painpath.facts.function import Function
from painpath.facts.groups import expand_group_answers
from painpath.facts.instruments import Instruments
from painpath.facts.mental_health import MentalHealth
from painpath.facts.pain import Pain
from painpath.facts.readiness import Readiness
from painpath.facts.red_flags import RedFlags


class PatientFactsFields(FactModel):
    """The fields of ``PatientFacts`` validated as given, without group answers applied.

    ``parse_facts_json`` validates facts that carry no group answers with this model, straight from
    the JSON bytes (``PatientFacts``' "before" step needs the decoded object, so pydantic would first
    turn the whole document into Python dicts), and returns them as ``PatientFacts``.
    """

    patient_id: str | None = Field(default=None, max_length=128, description="Caller's identifier; never logged.")
    assessment_date: datetime.date | None = None
    demographics: Demographics = Field(default_factory=Demographics)
    pain: Pain = Field(default_factory=Pain)
    red_flags: RedFlags = Field(default_factory=RedFlags)
    instruments: Instruments = Field(default_factory=Instruments)
    mental_health: MentalHealth = Field(default_factory=MentalHealth)
    function: Function = Field(default_factory=Function)
    care: Care = Field(default_factory=Care)
    readiness: Readiness = Field(default_factory=Readiness)
    provenance: dict[str, str] | None = Field(
        default=None, description="Fact path -> source record (e.g. 'Observation/123'), set by adapters."
    )
    answered_groups: list[str] | None = Field(
        default=None,
        description=(
            "Group answers by id (`groups` in facts/questions.yaml, e.g. 'no_cauda_equina_symptoms'): each sets "
            "its facts to the group's values, recorded in `provenance` as 'group:<id>'; an explicit answer that "
            "contradicts the group is an error."
        ),
    )


class PatientFacts(PatientFactsFields):
    """Typed facts about one patient. Every fact is optional; ``None`` means not recorded.

    ``patient_id`` and ``provenance`` are carried through to the decision but are never used by a rule
    and never logged.
    """

    @model_validator(mode="before")
    @classmethod
    def _expand_group_answers(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("answered_groups"):
            return data
        return expand_group_answers(data)
