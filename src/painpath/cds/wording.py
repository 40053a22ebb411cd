"""The presentation data of cards (``cards.yaml``): wording, indicators, suggestions, override reasons."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Indicator = Literal["info", "warning", "critical"]
WORDING_FILE = Path(__file__).with_name("cards.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    label: str
    url: str


class ReplaceImaging(_Strict):
    when_recommendations: tuple[str, ...]
    when_order_kind: str
    label: str
    replacement_referral: str
    create_description: str
    delete_description: str


class Instrument(_Strict):
    name: str


class MissingQuestionnaire(_Strict):
    label: str
    description: str
    instruments: dict[str, Instrument]


class Suggestions(_Strict):
    replace_imaging: ReplaceImaging
    missing_questionnaire: MissingQuestionnaire


class Reason(_Strict):
    code: str
    display: str


class OverrideReasons(_Strict):
    on_kinds: frozenset[str]
    """The finding kinds whose cards offer override reasons (cards that only ask for data never do)."""
    system: str
    codes: tuple[Reason, ...]


Forms = tuple[str, ...]
"""A summary's forms, longest first: the first that fits is shown, none is ever cut."""


class Summaries(_Strict):
    red_flag: Forms = Field(min_length=1)
    safety_alert: Forms = Field(min_length=1)
    adherence: Forms = Field(min_length=1)
    note: Forms = Field(min_length=1)
    pmp: Forms = Field(min_length=1)
    possible_red_flag: Forms = Field(min_length=1)
    red_flag_screen_incomplete: Forms = Field(min_length=1)
    questions: Forms = Field(min_length=1)
    mapping_issues: Forms = Field(min_length=1)
    manual_review: Forms = Field(min_length=1)


class Headings(_Strict):
    why: str
    why_not: str
    unknown: str
    advice: str
    sources: str
    facts: str
    mapping: str
    answer_first: str
    next_questions: str
    provenance: str


class Wording(_Strict):
    version: str
    source: Source
    indicator_by_urgency: dict[str, Indicator]
    against_order_indicator: Indicator
    red_flag_screen_incomplete_indicator: Indicator
    summaries: Summaries
    manual_review_detail: str
    short_summaries: dict[str, str]
    """Rule id -> a short summary, for rules whose own text does not fit in a summary."""
    questions_per_card: int = Field(ge=1, le=20)
    source_labels: dict[str, str]
    """Guideline id -> its short name, the card's ``source.label``."""
    urgency_labels: dict[str, str]
    action_short: dict[str, str]
    pmp_status_labels: dict[str, str]
    detail_headings: Headings
    suggestions: Suggestions
    override_reasons: OverrideReasons


@functools.cache
def load_wording(path: Path = WORDING_FILE) -> Wording:
    """The bundled presentation data, validated (a misspelt key is an error)."""
    return Wording.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
