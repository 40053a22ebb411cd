"""The triage vocabulary (``triage/codes.yaml``) and the comparison of an outcome with the advice."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from painpath.triage.codes import CODES_FILE, TriageCodesError, load_codes, parse_codes
from painpath.triage.outcome import OutcomeChoice, check_outcome


def raw() -> dict[str, Any]:
    return dict(yaml.safe_load(CODES_FILE.read_text(encoding="utf-8")))


def test_the_packaged_codes_load_and_end_with_a_catch_all() -> None:
    codes = load_codes()
    assert set(codes.outcomes) == {"accepted", "redirected", "returned"}
    assert codes.advice[-1].when == {}


def test_every_problem_in_a_broken_file_is_reported_together() -> None:
    broken = copy.deepcopy(raw())
    broken["advice"][1]["agrees"][0]["redirected_to"] = ["the_moon"]
    broken["advice"][2]["when"] = {"colour": ["red"]}
    broken["outcomes"]["accepted"]["requires"] = ["service", "ward"]
    broken["advice"].append({"id": "manual_review", "text": "again", "when": {"status": ["x"]}, "agrees": "any"})
    with pytest.raises(TriageCodesError) as caught:
        parse_codes(broken)
    locations = {p.location for p in caught.value.problems}
    assert {"advice[1].agrees[0].redirected_to", "advice[2].when.colour", "outcomes.accepted.requires"} <= locations
    assert any("last advice rule" in p.message for p in caught.value.problems)
    assert any("duplicate advice id" in p.message for p in caught.value.problems)


EMERGENCY = {"status": "ok", "highest_urgency": "emergency", "red_flag_status": "present", "pmp_status": None}
PMP = {"status": "ok", "highest_urgency": None, "red_flag_status": "absent", "pmp_status": "recommended",
       "pmp_setting": "residential"}  # fmt: skip


@pytest.mark.parametrize(
    ("summary", "choice", "departs"),
    [
        (EMERGENCY, OutcomeChoice("redirected", redirected_to="emergency_department"), False),
        (EMERGENCY, OutcomeChoice("redirected", redirected_to="rheumatology", reason="x"), True),
        (EMERGENCY, OutcomeChoice("accepted", service="pmp", setting="outpatient", reason="x"), True),
        (PMP, OutcomeChoice("accepted", service="pmp", setting="residential"), False),
        (PMP, OutcomeChoice("accepted", service="pmp", setting="outpatient", reason="x"), True),
        ({"status": "manual_review"}, OutcomeChoice("returned", returned_reason="duplicate_referral"), False),
    ],
)
def test_departures_follow_the_advice_rules(summary: dict[str, Any], choice: OutcomeChoice, departs: bool) -> None:
    checked = check_outcome(load_codes(), choice, summary)
    assert checked.problems == ()
    assert checked.departs_from_advice is departs


def test_a_departure_without_a_reason_names_the_reason_field() -> None:
    checked = check_outcome(load_codes(), OutcomeChoice("returned", returned_reason="patient_declined"), EMERGENCY)
    assert [p.field for p in checked.problems] == ["reason"]
