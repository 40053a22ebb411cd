"""Psychiatric, cognitive and substance-use status relevant to pathway decisions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from painpath.facts.base import FactModel, Flag

CognitiveImpairment = Literal["none", "mild", "moderate", "severe"]


class MentalHealth(FactModel):
    """Mental-health, cognitive and substance-use facts, each explicitly recorded or ``None``."""

    active_psychosis: Flag = Field(default=None, description="Current psychotic symptoms, uncontrolled.")
    suicidal_plans: Flag = Field(default=None, description="Current suicidal plans or intent.")
    recent_suicide_attempt: Flag = Field(default=None, description="Suicide attempt in the last 12 months.")
    severe_ptsd: Flag = Field(default=None, description="Severe, active post-traumatic stress disorder.")
    personality_disorder_unstable: Flag = Field(
        default=None, description="Personality disorder that currently prevents group work."
    )
    acute_psychiatric_crisis: Flag = Field(default=None, description="Under crisis or acute psychiatric care.")
    complex_psychological_needs_first: Flag = Field(
        default=None, description="Psychological needs that must be addressed before pain management."
    )
    depression: Flag = Field(default=None, description="Depressive disorder diagnosed or suspected.")
    anxiety: Flag = Field(default=None, description="Anxiety disorder diagnosed or suspected.")
    cognitive_impairment: CognitiveImpairment | None = None
    active_substance_misuse: Flag = Field(
        default=None, description="Current problematic drug or alcohol use (including illicit drugs)."
    )
    intractable_parenteral_opioid_use: Flag = Field(
        default=None, description="Intractable use of injectable, lozenge or liquid opioids."
    )
    suicide_risk_assessment_done: Flag = Field(
        default=None, description="A suicide-risk assessment was completed in this episode."
    )
