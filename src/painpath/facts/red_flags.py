"""Red-flag features for serious pathology, each asked explicitly (tri-state).

Field names follow the clinical feature, not a diagnosis: the rules in ``rules/red_flags/`` decide
what a combination of features means. ``None`` means the question was never asked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from painpath.facts.base import FactModel, Flag, StrictInt

TestResult = Literal["positive", "negative", "not_tested"]


class RedFlags(FactModel):
    """Red-flag screening answers for one patient at one time."""

    # Cauda equina syndrome
    saddle_anaesthesia: Flag = Field(default=None, description="Perianal, perineal or genital numbness.")
    bladder_dysfunction: Flag = Field(
        default=None, description="New urinary retention, incontinence or loss of urinary sensation."
    )
    bowel_dysfunction: Flag = Field(default=None, description="New faecal incontinence or loss of rectal sensation.")
    sexual_dysfunction: Flag = Field(
        default=None, description="New loss of genital sensation or erectile/ejaculatory failure."
    )
    bilateral_sciatica: Flag = Field(
        default=None, description="Bilateral radicular leg pain or bilateral leg neurological symptoms."
    )
    ces_symptom_onset_days: StrictInt | None = Field(
        default=None, ge=0, le=36500, description="Days since the cauda equina symptoms began."
    )
    ces_symptoms_worsening: Flag = Field(default=None, description="Cauda equina symptoms are deteriorating.")
    # Neurology
    progressive_neurological_deficit: Flag = Field(
        default=None, description="New or progressive limb weakness (e.g. foot drop) or sensory loss."
    )
    severe_motor_weakness: Flag = Field(default=None, description="Motor power MRC grade 3 or less.")
    neurological_symptoms: Flag = Field(
        default=None, description="Any limb weakness, sensory loss, gait difficulty or sphincter change."
    )
    # Cervical myelopathy
    hand_clumsiness: Flag = Field(default=None, description="Clumsy or numb hands, loss of dexterity.")
    gait_disturbance: Flag = Field(default=None, description="Unsteady or broad-based gait.")
    upper_motor_neuron_signs: Flag = Field(
        default=None, description="Hyperreflexia, Hoffmann's sign, clonus or up-going plantars."
    )
    lhermitte_sign: Flag = Field(default=None, description="Electric shock sensation on neck flexion.")
    # Malignancy
    history_of_cancer: Flag = Field(default=None, description="Past or current diagnosis of cancer.")
    unexplained_weight_loss: Flag = None
    night_pain: Flag = Field(default=None, description="Persistent night pain unrelieved by change of position.")
    thoracic_pain: Flag = None
    non_mechanical_pain: Flag = Field(default=None, description="Constant, progressive, non-mechanical pain.")
    no_improvement_after_4_weeks: Flag = Field(
        default=None, description="Failure to improve after about one month of care."
    )
    # Infection
    fever: Flag = Field(default=None, description="Fever, chills or rigors.")
    immunosuppression: Flag = Field(default=None, description="Immunosuppressed (drugs, HIV, diabetes, transplant).")
    intravenous_drug_use: Flag = None
    recent_bacterial_infection: Flag = None
    history_of_tuberculosis: Flag = None
    # Fracture
    major_trauma: Flag = None
    minor_trauma: Flag = None
    known_osteoporosis: Flag = None
    long_term_corticosteroids: Flag = None
    structural_deformity: Flag = None
    # Axial spondyloarthritis (NICE NG65 criteria)
    back_pain_onset_before_35: Flag = None
    night_waking_second_half: Flag = Field(
        default=None, description="Wakes in the second half of the night because of symptoms."
    )
    buttock_pain: Flag = None
    improves_with_movement: Flag = None
    nsaid_response_within_48h: Flag = Field(default=None, description="Improves within 48 hours of taking NSAIDs.")
    first_degree_relative_spa: Flag = Field(default=None, description="First-degree relative with spondyloarthritis.")
    arthritis_history: Flag = Field(default=None, description="Current or past arthritis.")
    enthesitis_history: Flag = Field(default=None, description="Current or past enthesitis.")
    psoriasis_history: Flag = Field(default=None, description="Current or past psoriasis.")
    hla_b27: TestResult | None = None
    # Vascular: abdominal aortic aneurysm
    abdominal_pain: Flag = Field(default=None, description="New abdominal pain with the back pain.")
    cardiovascular_collapse: Flag = Field(default=None, description="Collapse, syncope or hypotension.")
    pulsatile_abdominal_mass: Flag = None
    # Giant cell arteritis
    new_headache: Flag = None
    scalp_tenderness: Flag = None
    jaw_claudication: Flag = None
    visual_disturbance: Flag = Field(default=None, description="Visual loss, diplopia or amaurosis.")
    raised_inflammatory_markers: Flag = Field(default=None, description="Raised ESR or CRP.")
