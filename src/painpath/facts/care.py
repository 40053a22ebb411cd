"""Care history of the current episode: what has been assessed, advised, given and referred."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from painpath.facts.base import FactModel, Flag, StrictFloat

CareSetting = Literal["primary_care", "community_msk", "secondary_care", "specialist_pain_service"]
ImagingModality = Literal["xray", "mri", "ct", "ultrasound"]
Treatment = Literal[
    "advice_self_management",
    "physiotherapy",
    "exercise_programme",
    "group_exercise",
    "manual_therapy",
    "psychological_therapy",
    "cbt",
    "act",
    "pain_management_programme",
    "acupuncture",
    "tens",
    "spinal_injection",
    "radiofrequency_denervation",
    "surgery",
    "medication_review",
    "sleep_intervention",
    "pain_neuroscience_education",
    "graded_sensorimotor_retraining",
    "multidisciplinary_rehabilitation",
]
Medicine = Literal[
    "paracetamol",
    "nsaid_oral",
    "nsaid_topical",
    "weak_opioid",
    "strong_opioid",
    "gabapentinoid",
    "other_antiepileptic",
    "benzodiazepine",
    "antidepressant_tca",
    "antidepressant_ssri",
    "antidepressant_snri",
    "oral_corticosteroid",
    "antipsychotic",
    "ketamine",
    "local_anaesthetic",
    "z_drug",
]
Referral = Literal["pain_clinic", "pmp", "physiotherapy", "imaging", "surgery"]
SurgeryType = Literal[
    "spinal_fusion",
    "spinal_decompression",
    "discectomy",
    "arthroplasty",
    "arthroscopy",
    "subacromial_decompression",
    "other",
]


class Care(FactModel):
    """What was done in this episode of care, as recorded (``None`` = not documented either way)."""

    setting: CareSetting | None = Field(default=None, description="Where the patient is being seen now.")
    episode_weeks: StrictFloat | None = Field(
        default=None, ge=0, le=5200, description="Length of this episode of care."
    )
    # Assessment
    red_flag_screen_documented: Flag = None
    psychosocial_screen_documented: Flag = None
    physical_exam_documented: Flag = None
    neurological_exam_documented: Flag = None
    goals_documented: Flag = Field(default=None, description="Patient goals or priorities recorded.")
    options_discussed: Flag = Field(default=None, description="Shared decision-making about options recorded.")
    care_plan_agreed: Flag = None
    # Imaging
    imaging_requested: Flag = None
    imaging_modality: ImagingModality | None = None
    imaging_requested_by: CareSetting | None = None
    imaging_likely_to_change_management: Flag = None
    unexplained_progression: Flag = Field(default=None, description="Unexplained progression of signs or symptoms.")
    # Treatment
    treatments_given: list[Treatment] | None = Field(default=None, description="Treatments delivered in this episode.")
    treatments_failed: list[Treatment] | None = Field(
        default=None, description="Earlier treatments that did not bring lasting relief."
    )
    conservative_care_weeks: StrictFloat | None = Field(default=None, ge=0, le=5200)
    manual_therapy_with_exercise: Flag = Field(
        default=None, description="Manual therapy given alongside an exercise component."
    )
    medicines_current: list[Medicine] | None = None
    medicines_started_this_episode: list[Medicine] | None = None
    # Education and advice
    education_given: Flag = None
    advised_stay_active: Flag = None
    advised_bed_rest: Flag = None
    sleep_hygiene_or_cbti_offered: Flag = None
    # Outcome measures
    baseline_outcome_measure: Flag = None
    followup_outcome_measure: Flag = None
    # Referrals and surgery
    referrals_requested: list[Referral] | None = Field(
        default=None, description="Services requested in this episode, e.g. the referral being drafted or signed."
    )
    surgery_referral: Flag = None
    surgery_type: SurgeryType | None = None
    work_focused_intervention: Flag = Field(
        default=None, description="Return-to-work advice, fit note with adaptations, OH or vocational referral."
    )
    secondary_care_pain_service_completed: Flag = None
    pmp_completed: Flag = Field(default=None, description="Has completed a pain management programme before.")
    post_pmp_setback: Flag = Field(default=None, description="A setback or flare-up after completing a PMP.")
    pending_investigations: Flag = Field(
        default=None, description="Investigations outstanding that could change the picture."
    )
    pending_treatment_could_change_picture: Flag = Field(
        default=None, description="A medical or surgical treatment is planned or awaited."
    )
    override_reason_documented: Flag = Field(
        default=None, description="A clinician documented why a guideline recommendation was not followed."
    )
