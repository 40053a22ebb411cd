"""Examples for the OpenAPI document (checked against the facts model by the tests)."""

from __future__ import annotations

from typing import Any

CAUDA_EQUINA_FACTS: dict[str, Any] = {
    "patient_id": "example-0001",
    "assessment_date": "2026-11-02",
    "demographics": {"age": 47, "sex": "female"},
    "red_flags": {
        "saddle_anaesthesia": True,
        "bladder_dysfunction": False,
        "bowel_dysfunction": False,
        "ces_symptom_onset_days": 3,
        "progressive_neurological_deficit": False,
        "history_of_cancer": False,
        "unexplained_weight_loss": False,
        "fever": False,
        "immunosuppression": False,
        "major_trauma": False,
    },
}

NO_RED_FLAGS_FACTS: dict[str, Any] = {
    "demographics": {"age": 52},
    "red_flags": {
        "saddle_anaesthesia": False,
        "bladder_dysfunction": False,
        "bowel_dysfunction": False,
        "progressive_neurological_deficit": False,
        "history_of_cancer": False,
        "unexplained_weight_loss": False,
        "fever": False,
        "immunosuppression": False,
        "major_trauma": False,
    },
}

FACTS_EXAMPLES: dict[str, dict[str, Any]] = {
    "cauda_equina": {"summary": "Saddle anaesthesia for 3 days: an emergency red flag", "value": CAUDA_EQUINA_FACTS},
    "screen_clear": {"summary": "Every red-flag question answered no", "value": NO_RED_FLAGS_FACTS},
    "sparse": {
        "summary": "Almost nothing recorded: the decision lists what is missing",
        "value": {"demographics": {"age": 30}},
    },
}

MISSPELT_FACTS_PROBLEM: dict[str, Any] = {
    "type": "urn:painpath:problem:invalid-facts",
    "title": "Invalid patient facts",
    "status": 422,
    "detail": "1 problem in the patient facts",
    "instance": "/v1/evaluations",
    "request_id": "3f1c0e5a9b7d4c2e8f6a1b0c9d8e7f6a",
    "errors": [
        {
            "field": "red_flags.saddle_anesthesia",
            "pointer": "/red_flags/saddle_anesthesia",
            "reason": "unknown field",
            "suggestion": "red_flags.saddle_anaesthesia",
        }
    ],
}
