"""Issue 11: decide under incomplete information, through the real ``painpath evaluate``.

Each test is one of the issue's examples: what a GP typically records at first contact, and the
safest answer that is already certain, with the questions that would settle the rest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from painpath.facts import CATALOGUE
from tests.conftest import ROOT

PAINPATH = [sys.executable, "-m", "painpath.cli", "evaluate"]
NO_RED_FLAGS = {
    path.removeprefix("red_flags."): False
    for path, spec in CATALOGUE.items()
    if path.startswith("red_flags.") and spec.kind == "boolean"
}
"""Every red-flag question answered "no"."""


def evaluate(tmp_path: Path, facts: dict[str, Any], *options: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "patient.json"
    path.write_text(json.dumps(facts), encoding="utf-8")
    return subprocess.run(
        [*PAINPATH, str(path), *options], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )


def decide(tmp_path: Path, facts: dict[str, Any]) -> dict[str, Any]:
    result = evaluate(tmp_path, facts)
    assert result.returncode == 0, result.stderr
    decision: dict[str, Any] = json.loads(result.stdout)
    return decision


def test_issue11_possible_cauda_equina_is_an_emergency_asking_onset_first(tmp_path: Path) -> None:
    facts = {"demographics": {"age": 45}, "red_flags": {"saddle_anaesthesia": True, "bladder_dysfunction": True}}
    d = decide(tmp_path, facts)
    assert d["red_flags"]["status"] == "possible"
    first = d["red_flags"]["possible"][0]
    assert (first["condition"], first["urgency"]) == ("cauda_equina_syndrome", "emergency")
    assert "long-standing and stable" in first["text"]
    settle = [q["fact"] for q in first["settle"]]
    assert settle[:2] == ["red_flags.ces_symptom_onset_days", "red_flags.ces_symptoms_worsening"]
    assert [m["fact"] for m in d["missing_information"][:2]] == settle[:2]
    assert d["missing_information"][0]["tier"] == "urgency"
    text = evaluate(tmp_path, facts, "--format", "text").stdout
    act_first = text.split("ACT FIRST", 1)[1].split("Red-flag screen", 1)[0]
    assert "[EMERGENCY] POSSIBLE: possible cauda equina syndrome" in act_first


def test_issue11_possible_spinal_malignancy_asks_the_neurological_questions_first(tmp_path: Path) -> None:
    facts = {
        "demographics": {"age": 67},
        "red_flags": {"history_of_cancer": True, "night_pain": True, "unexplained_weight_loss": True},
    }
    d = decide(tmp_path, facts)
    possible = d["red_flags"]["possible"]
    assert possible, "a possible malignancy finding must be shown"
    assert possible[0]["urgency"] in ("emergency", "urgent")
    assert possible[0]["settle"][0]["fact"].startswith("red_flags.") and "neuro" in possible[0]["settle"][0]["fact"]


def test_issue11_not_now_is_certain_once_a_red_flag_defers_the_pmp(tmp_path: Path) -> None:
    facts = {"demographics": {"age": 47}, "red_flags": {"saddle_anaesthesia": True, "ces_symptom_onset_days": 3}}
    d = decide(tmp_path, facts)
    pmp = d["pmp"]
    assert (pmp["status"], pmp["certainty"]) == ("not_yet", "bounded")
    assert "PMP_DEFER_RED_FLAG_PRESENT" in {r["rule"]["id"] for r in pmp["reasons"]}
    assert pmp["also_check"], "the stronger exclusions still unknown are listed to check"


def test_issue11_not_willing_is_a_certain_not_now(tmp_path: Path) -> None:
    facts = {
        "demographics": {"age": 50},
        "red_flags": NO_RED_FLAGS,
        "pain": {"duration_months": 24.0, "significant_impact": True},
        "readiness": {"willing_to_try_self_management": False},
    }
    pmp = decide(tmp_path, facts)["pmp"]
    assert pmp["status"] in ("not_yet", "not_suitable") and pmp.get("certainty", "definite") in ("bounded", "definite")
    assert "PMP_READINESS_NOT_WILLING" in {r["rule"]["id"] for r in pmp["reasons"]}


def test_issue11_recommended_provided_that_with_a_checklist(tmp_path: Path) -> None:
    facts = {
        "demographics": {"age": 52},
        "red_flags": NO_RED_FLAGS,
        "pain": {"duration_months": 36.0, "significant_impact": True},
        "instruments": {"start_back": {"total": 7, "psychosocial": 5}},
        "readiness": {
            "willing_to_try_self_management": True,
            "willing_to_attend_group": True,
            "practical_barriers_to_attendance": False,
            "seeking_cure_only": False,
        },
        "function": {"able_to_attend_outpatient_group": True},
        "care": {"pending_investigations": False, "pending_treatment_could_change_picture": False},
    }
    d = decide(tmp_path, facts)
    pmp = d["pmp"]
    assert pmp["status"] == "undetermined", "a conditional recommendation is never shown as a plain status"
    assert (pmp["certainty"], pmp["conditional"]) == ("conditional", "recommended")
    assert len(pmp["provided_that"]) >= 3
    text = evaluate(tmp_path, facts, "--format", "text").stdout
    assert "Pain Management Programme: recommended, provided that:" in text
    assert "[ ]" in text


def test_issue11_pathways_waiting_on_the_screen_stay_listed(tmp_path: Path) -> None:
    facts = {
        "demographics": {"age": 40},
        "pain": {"duration_months": 18.0, "classification": "primary"},
        "red_flags": {"fever": False, "night_pain": False},
    }
    d = decide(tmp_path, facts)
    options = {p["option"]: p for p in d["pathways"]}
    assert "physiotherapist_led_individualised_rehabilitation" in options or "insomnia_treatment" in options
    assert all(p["status"] != "recommended" for p in d["pathways"]), "nothing is recommended while the screen is open"


def test_issue11_the_requested_referral_is_answered(tmp_path: Path) -> None:
    facts = {
        "demographics": {"age": 45},
        "red_flags": {"saddle_anaesthesia": True, "ces_symptom_onset_days": 3},
        "care": {"referrals_requested": ["pain_clinic"]},
    }
    referrals = {r["referral"]: r for r in decide(tmp_path, facts)["referrals"]}
    assert referrals["pain_clinic"]["status"] == "not_yet"
    clear = {
        "demographics": {"age": 45},
        "red_flags": NO_RED_FLAGS,
        "pain": {"duration_months": 12.0, "significant_impact": True},
        "care": {"referrals_requested": ["pain_clinic"]},
    }
    answer = {r["referral"]: r for r in decide(tmp_path, clear)["referrals"]}["pain_clinic"]
    assert answer.get("conditional", answer["status"]) == "appropriate"
    assert answer["contents"], "the referral says what it should contain"


def test_issue11_absent_only_when_every_item_was_answered(tmp_path: Path) -> None:
    partial = {k: v for k, v in NO_RED_FLAGS.items() if k != "saddle_anaesthesia"}
    d = decide(tmp_path, {"demographics": {"age": 40}, "red_flags": partial})
    assert d["red_flags"]["status"] != "absent"
    d = decide(tmp_path, {"demographics": {"age": 40}, "red_flags": NO_RED_FLAGS})
    assert d["red_flags"]["status"] == "absent"


def test_issue11_a_group_answer_records_several_facts_with_their_provenance(tmp_path: Path) -> None:
    d = decide(tmp_path, {"demographics": {"age": 45}, "answered_groups": ["no_cauda_equina_symptoms"]})
    group = {path: src for path, src in d["provenance"].items() if src == "group:no_cauda_equina_symptoms"}
    assert set(group) >= {
        "red_flags.saddle_anaesthesia",
        "red_flags.bladder_dysfunction",
        "red_flags.bowel_dysfunction",
    }
    assert "red_flags.saddle_anaesthesia" not in d["red_flags"]["missing"]
    contradiction = evaluate(
        tmp_path, {"answered_groups": ["no_cauda_equina_symptoms"], "red_flags": {"saddle_anaesthesia": True}}
    )
    assert contradiction.returncode == 3
    assert "red_flags.saddle_anaesthesia" in contradiction.stderr


def test_issue11_scores_are_interpreted_beside_the_score(tmp_path: Path) -> None:
    facts = {"instruments": {"phq9": {"total": 12}, "start_back": {"total": 7, "psychosocial": 5}}}
    scores = decide(tmp_path, facts)["scores"]
    assert scores["phq9_severity"]["label"] == "moderate"
    assert scores["start_back_risk"]["label"] == "high"
    text = evaluate(tmp_path, facts, "--format", "text").stdout
    assert "STarT Back risk group: high risk" in text
    entered = decide(tmp_path, {"instruments": {"start_back": {"risk": "medium"}}})["scores"]["start_back_risk"]
    assert (entered["label"], entered["source"]) == ("medium", "entered")
