"""The presentation data of cards (``cards.yaml``): wording, indicators, suggestions, override reasons."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

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
    system: str
    codes: tuple[Reason, ...]


class Summaries(_Strict):
    red_flag: str
    safety_alert: str
    adherence: str
    note: str
    red_flag_screen_incomplete: str
    pmp: str
    mapping_issues: str
    manual_review: str
    manual_review_detail: str


class Headings(_Strict):
    why: str
    why_not: str
    unknown: str
    advice: str
    sources: str
    facts: str
    mapping: str
    provenance: str


class Wording(_Strict):
    version: str
    source: Source
    indicator_by_urgency: dict[str, Indicator]
    against_order_indicator: Indicator
    red_flag_screen_incomplete_indicator: Indicator
    summaries: Summaries
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
