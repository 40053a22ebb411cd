"""The pain itself: where, how long, how bad, and how it is classified."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from painpath.facts.base import FactModel, Flag, StrictFloat, StrictInt

PainSite = Literal[
    "low_back",
    "thoracic_spine",
    "neck",
    "shoulder",
    "hip",
    "knee",
    "hand",
    "foot_ankle",
    "elbow",
    "jaw",
    "widespread",
    "other",
]
PainClassification = Literal["primary", "secondary", "mixed"]
WorkingDiagnosis = Literal[
    "non_specific_low_back_pain",
    "sciatica",
    "lumbar_spinal_stenosis",
    "non_specific_neck_pain",
    "cervical_radiculopathy",
    "osteoarthritis_knee",
    "osteoarthritis_hip",
    "shoulder_pain",
    "fibromyalgia",
    "chronic_widespread_pain",
    "complex_regional_pain_syndrome",
    "inflammatory_arthritis",
    "post_surgical_pain",
    "other",
]


class Pain(FactModel):
    """Characteristics of the presenting (chronic) pain."""

    sites: list[PainSite] | None = Field(default=None, description="Body regions affected.")
    duration_months: StrictFloat | None = Field(
        default=None, ge=0, le=1200, description="How long the pain has persisted or recurred."
    )
    intensity_nrs: StrictInt | None = Field(
        default=None, ge=0, le=10, description="Average pain intensity, numeric rating scale 0-10."
    )
    worst_nrs: StrictInt | None = Field(default=None, ge=0, le=10, description="Worst pain, NRS 0-10.")
    classification: PainClassification | None = Field(
        default=None, description="Chronic primary, secondary or mixed pain (ICD-11, NICE NG193)."
    )
    working_diagnosis: WorkingDiagnosis | None = None
    onset_age: StrictInt | None = Field(
        default=None, ge=0, le=120, description="Age in years when this pain first started."
    )
    radicular_leg_pain: Flag = Field(default=None, description="Radiating leg pain (sciatica).")
    radicular_arm_pain: Flag = Field(default=None, description="Radiating arm pain.")
    significant_impact: Flag = Field(
        default=None, description="Pain has a significant physical, psychological or social impact."
    )
    nociplastic_features: Flag = Field(
        default=None, description="Clinician judges central sensitisation to dominate the picture."
    )
    pain_out_of_proportion: Flag = Field(
        default=None, description="Pain or its impact out of proportion to observable injury or disease."
    )
