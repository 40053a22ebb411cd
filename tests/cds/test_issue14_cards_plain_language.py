"""Issue 14, findings 3 and 4: cards in plain language, and the MRI case from a realistic record.

Cards never show fact paths: they ask the decision's ranked next questions in the question
catalogue's words, a few at a time; they suggest only what is not recorded; override reasons only
on cards that make a recommendation; summaries are whole and at most 140 characters, chosen from
data forms (every rule's summary is rendered here); the source label is the guideline's short name.

The MRI case: a primary-care lumbar MRI (SNOMED CT 433141005) for a patient whose record holds
only a coded chronic low back pain (278860009) gets the QS155 statement 2 warning with its
replacement suggestion; with a possible red flag recorded, a "possible red flag - answer these
first" card instead.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from painpath.cds.cards import CardBuilder, choose_form
from painpath.cds.models import SUMMARY_MAX, HookResponse
from painpath.cds.wording import load_wording
from painpath.engine import Finding, RulesetIR, load_ruleset
from painpath.facts.catalogue import CATALOGUE
from painpath.facts.questions import load_questions
from painpath.paths import default_rules_dir
from tests.api.conftest import Service
from tests.cds.hook_requests import CHRONIC_LBP, LUMBAR_MRI, call, condition, hook_request, service_request

LOINC = "http://loinc.org"
_SECTIONS = sorted({p.split(".")[0] for p in CATALOGUE} | {"derived"})
FACT_PATH = re.compile(r"\b(?:" + "|".join(_SECTIONS) + r")\.[a-z0-9_.]+")
URL = re.compile(r"https?://[^\s)]+")
WHOLE = re.compile(r"[\w.)!?]$")


@pytest.fixture(scope="module")
def ruleset() -> RulesetIR:
    return load_ruleset(default_rules_dir())


def _findings(ruleset: RulesetIR) -> list[Finding]:
    """A finding for every rule that can give a card, as ``findings_of`` would build it."""
    out: list[Finding] = []
    for stratum in ruleset.strata:
        for rule in stratum.rules:
            c: Any = rule.concludes
            text = str(getattr(c, "reason", None) or getattr(c, "action", None) or getattr(c, "text", None) or "")
            if c.kind in ("red_flag", "safety_alert"):
                out.append(
                    Finding(c.kind, rule.id, rule.version, rule.cites, text, c.urgency, getattr(c, "condition", None))
                )
            elif c.kind == "adherence" and c.status == "not_met":
                out.append(Finding("adherence", rule.id, rule.version, rule.cites, text, status="not_met"))
            elif c.kind == "pmp":
                out.append(Finding("pmp", rule.id, rule.version, rule.cites, text, status=c.status))
            elif c.kind == "note":
                out.append(Finding("note", rule.id, rule.version, rule.cites, text))
    return out


def _whole(summary: str) -> bool:
    return len(summary) <= SUMMARY_MAX and "…" not in summary and bool(WHOLE.search(summary))


def test_every_rule_card_summary_is_whole_and_at_most_140_characters(ruleset: RulesetIR) -> None:
    builder = CardBuilder(load_wording(), ruleset.guidelines)
    findings = _findings(ruleset)
    assert len(findings) > 40
    bad = {f.rule_id: s for f in findings if not _whole(s := builder.summary(f))}
    assert not bad
    # and the summary is one of the data's forms, filled in (never a cut of one)
    phq9 = next(f for f in findings if f.rule_id == "SAFE_PHQ9_ITEM9_POSITIVE")
    assert builder.summary(phq9) == "URGENT: " + load_wording().short_summaries["SAFE_PHQ9_ITEM9_POSITIVE"]


def test_every_other_card_summary_is_whole_for_any_count(ruleset: RulesetIR) -> None:
    s = load_wording().summaries
    labels = load_wording().urgency_labels
    for stratum in ruleset.strata:
        for rule in stratum.rules:
            if rule.possible is None:
                continue
            for count in (1, 5, 20):
                text = choose_form(
                    s.possible_red_flag,
                    urgency_label=labels[rule.possible.urgency],
                    text=rule.possible.text,
                    condition=str(getattr(rule.concludes, "condition", "")).replace("_", " "),
                    count=count,
                )
                assert _whole(text), (rule.id, text)
    for forms in (s.red_flag_screen_incomplete, s.questions, s.mapping_issues):
        for count in (1, 41, 999):
            assert _whole(choose_form(forms, count=count))
    assert _whole(choose_form(s.manual_review))


def test_every_cited_guideline_with_a_url_has_a_short_source_label(ruleset: RulesetIR) -> None:
    cited = {c.split("#")[0] for stratum in ruleset.strata for rule in stratum.rules for c in rule.cites}
    with_url = {g for g in cited if ruleset.guidelines[g].url}
    labels = load_wording().source_labels
    assert with_url - set(labels) == set()
    assert all(len(labels[g]) <= 60 and labels[g] != ruleset.guidelines[g].title for g in with_url)


def _cards(svc: Service, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = call(svc, body)
    assert response.status_code == 200, response.text
    HookResponse.model_validate(response.json())
    return response.json()["cards"]  # type: ignore[no-any-return]


def _text_of(card: dict[str, Any]) -> str:
    labels = [s["label"] for s in card.get("suggestions", [])]
    return "\n".join([card["summary"], card.get("detail", ""), card["source"]["label"], *labels])


def _no_fact_paths(cards: list[dict[str, Any]]) -> None:
    for card in cards:
        found = FACT_PATH.findall(URL.sub("", _text_of(card)))
        assert not found, (card["summary"], found)


MRI = service_request(*LUMBAR_MRI, "sr-mri")
LBP = condition(*CHRONIC_LBP, "cond-clbp")


def test_mri_for_coded_chronic_low_back_pain_with_nothing_recorded_gets_the_warning(gp_service: Service) -> None:
    cards = _cards(gp_service, hook_request("order-sign", conditions=[LBP], drafts=[MRI]))
    warning = next(c for c in cards if c["indicator"] == "warning")
    assert "imaging" in warning["summary"].lower() and "no red flag recorded" in warning["summary"]
    assert warning["source"] == {"label": "NICE QS155", "url": "https://www.nice.org.uk/guidance/qs155"}
    assert "BP_QS155_2_IMAGING_NOT_MET v1.1.0" in warning["detail"]
    assert "Condition/cond-clbp" in warning["detail"] and "ServiceRequest/sr-mri" in warning["detail"]
    actions = warning["suggestions"][0]["actions"]
    assert [a["type"] for a in actions] == ["delete", "create"] and actions[0]["resourceId"] == "ServiceRequest/sr-mri"
    assert warning["overrideReasons"]  # it recommends against the order: the GP may override it
    # the red-flag screen is not answered: its questions are asked, the most useful first, in plain language
    questions = next(c for c in cards if "Red-flag screen not complete" in c["summary"])
    assert questions["indicator"] == "info" and "overrideReasons" not in questions
    asked = re.findall(r"^\d+\. (.+)$", questions["detail"], re.M)
    assert 1 <= len(asked) <= load_wording().questions_per_card
    catalogue = {q.text for q in (load_questions().get(p) for p in CATALOGUE) if q is not None}
    assert set(asked) <= catalogue
    _no_fact_paths(cards)
    assert all(_whole(c["summary"]) for c in cards)


def test_the_same_mri_with_a_possible_red_flag_asks_those_questions_first(gp_service: Service) -> None:
    # a coded history of cancer: a possible spinal malignancy, not settled
    cancer = condition("363346000", "Malignant neoplastic disease", "cond-ca")
    cards = _cards(gp_service, hook_request("order-sign", conditions=[LBP, cancer], drafts=[MRI]))
    assert not any("no red flag recorded" in c["summary"] for c in cards)
    possible = [c for c in cards if "answer these questions first" in c["summary"].lower()]
    assert possible, [c["summary"] for c in cards]
    first = possible[0]
    assert "Condition/cond-ca" in first["detail"] and "overrideReasons" not in first
    assert re.findall(r"^\d+\. .+\?$", first["detail"], re.M)
    _no_fact_paths(cards)


def _observation(code: str, oid: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/pp-2001"},
        "effectiveDateTime": "2026-11-30",
        "valueInteger": value,
    }


def test_a_recorded_phq9_total_is_never_suggested_again(gp_service: Service) -> None:
    body = hook_request("patient-view", conditions=[LBP], observations=[_observation("44261-6", "obs-phq9", 8)])
    cards = _cards(gp_service, body)
    labels = [s["label"] for c in cards for s in c.get("suggestions", [])]
    assert labels and not any("PHQ-9" in label for label in labels)
    assert any("GAD-7" in label for label in labels)  # what is not recorded is still suggested
    _no_fact_paths(cards)


def test_cards_that_only_ask_for_data_carry_no_override_reasons(gp_service: Service) -> None:
    cards = _cards(gp_service, hook_request("patient-view", conditions=[LBP]))
    for card in cards:
        if card.get("overrideReasons"):
            assert card["indicator"] != "info" or ("detail" in card and "**Why**" in card["detail"])
        if "Red-flag screen" in card["summary"] or "could not be used" in card["summary"]:
            assert "overrideReasons" not in card
