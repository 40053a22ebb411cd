"""Issue 14: the SDC Questionnaire painpath-msk, and QuestionnaireResponses to it mapped back to facts.

The Questionnaire is generated from the question catalogue; the copy in the repository must be the
generated one. An EHR form built from the Questionnaire alone (``tests.support.questionnaire``)
answers the example patients and the scenario vignettes by linkId, and the mapping must give back
exactly the facts, and the decision, of the same patient sent as painpath JSON.
"""

from __future__ import annotations

import copy
import datetime
import subprocess
import sys
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from painpath.engine import Engine, decision_to_dict
from painpath.errors import FactsValidationError
from painpath.facts import CATALOGUE, parse_facts
from painpath.facts.catalogue import flatten
from painpath.facts.questions import load_questions
from painpath.fhir import QUESTIONNAIRE_URL, default_code_index, facts_from_bundle, facts_from_fhir, questionnaire
from painpath.fhir.questionnaire import QUESTIONNAIRE_FILE
from tests.support.questionnaire import ROOT, example_patients, question_items, response_from

AS_OF = datetime.date(2026, 11, 21)
PATIENTS = example_patients()
TYPES = {"boolean": "boolean", "integer": "integer", "number": "decimal", "enum": "choice", "set": "choice"}


def test_the_repository_copy_is_the_generated_questionnaire() -> None:
    check = subprocess.run(
        [sys.executable, "-m", "painpath.fhir", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    assert QUESTIONNAIRE_FILE.read_text(encoding="utf-8").startswith('{\n  "resourceType": "Questionnaire"')


def test_a_changed_copy_is_caught(tmp_path: Any) -> None:
    stale = tmp_path / "Questionnaire.json"
    stale.write_text(QUESTIONNAIRE_FILE.read_text(encoding="utf-8").replace("painpath-msk", "old", 1))
    check = subprocess.run(
        [sys.executable, "-m", "painpath.fhir", "--check", "--file", str(stale)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 1 and "make questionnaire" in check.stderr


def test_the_questionnaire_is_valid_r4_with_an_item_per_fact() -> None:
    doc = questionnaire()
    Questionnaire.model_validate(doc)
    assert doc["url"] == QUESTIONNAIRE_URL and doc["id"] == "painpath-msk"
    items = question_items(doc)
    assert set(items) == set(CATALOGUE)
    questions = load_questions()
    for path, item in items.items():
        spec = CATALOGUE[path]
        scored = bool(default_code_index().scores.get(path))
        assert item["type"] == ("choice" if scored else TYPES[spec.kind]), path
        assert item["text"] == questions.question(path).text
        assert item.get("repeats", False) == (spec.kind == "set"), path
        if spec.kind in ("enum", "set"):
            codes = [o["valueCoding"]["code"] for o in item["answerOption"]]
            assert codes == [*spec.values, *(["none"] if spec.kind == "set" else [])], path


def test_groups_are_the_catalogue_topics_in_consultation_order() -> None:
    groups = questionnaire()["item"]
    topics = list(load_questions().by_topic())
    assert [g["linkId"] for g in groups] == [f"topic-{t.id}" for t in topics]
    assert [g["text"] for g in groups] == [t.title for t in topics]
    assert all(g["type"] == "group" for g in groups)


def test_items_carry_the_standard_code_where_the_code_tables_have_one() -> None:
    items = question_items(questionnaire())
    for row in default_code_index().tables.observations:
        assert {"system": row.system, "code": row.code, "display": row.display} in items[row.fact]["code"]
    assert items["instruments.start_back.psychosocial"]["code"][0]["code"] == "91350-9"
    assert "code" not in items["red_flags.saddle_anaesthesia"]  # no standard code: the linkId is enough
    item9 = items["instruments.phq9.item9"]
    assert [o["valueCoding"]["code"] for o in item9["answerOption"]] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]


def _decision(engine: Engine, facts: Any) -> dict[str, Any]:
    out = decision_to_dict(engine.evaluate(facts.model_copy(update={"provenance": None})))
    out.pop("decision_id")
    out.pop("created_at")
    return out


@pytest.mark.parametrize("name", sorted(PATIENTS))
def test_a_response_from_the_form_gives_the_same_facts_and_decision(name: str, engine: Engine) -> None:
    facts = parse_facts(copy.deepcopy(PATIENTS[name]))
    flat = flatten(facts)
    response = response_from(questionnaire(), flat, AS_OF)
    QuestionnaireResponse.model_validate(response)
    mapped = facts_from_fhir(response, as_of=AS_OF)
    assert flatten(mapped.facts) == flat
    assert not [i for i in mapped.issues if i.severity != "information"], mapped.issues
    assert set(mapped.sources) == set(flat) and set(mapped.sources.values()) <= {"QuestionnaireResponse/qr1"}
    same_day = facts.model_copy(update={"assessment_date": AS_OF, "answered_groups": None, "patient_id": None})
    assert _decision(engine, mapped.facts) == _decision(engine, same_day)


def test_the_same_response_inside_a_bundle_gives_the_same_facts() -> None:
    flat = flatten(parse_facts(PATIENTS["scenario/s01_seed002_ready_outpatient"]))
    response = response_from(questionnaire(), flat, AS_OF)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": response}]}
    assert flatten(facts_from_bundle(bundle, as_of=AS_OF).facts) == flat
    assert flat["care.medicines_current"] == ()  # "none of these" is an empty list, not unknown


def _rejected(response: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(FactsValidationError) as caught:
        facts_from_fhir(response, as_of=AS_OF)
    return [(p.location, p.message) for p in caught.value.problems]


def _answer(link: str, answer: dict[str, Any]) -> dict[str, Any]:
    response = response_from(questionnaire(), {"demographics.age": 52}, AS_OF)
    response["item"][0]["item"].append({"linkId": link, "answer": [answer]})
    return response


def test_an_unknown_link_id_is_rejected_naming_it() -> None:
    problems = _rejected(_answer("red_flags.saddle_anesthesia", {"valueBoolean": True}))
    assert problems == [
        (
            "QuestionnaireResponse/qr1#red_flags.saddle_anesthesia",
            f"linkId 'red_flags.saddle_anesthesia' is not an item of {QUESTIONNAIRE_URL}",
        )
    ]
    assert _rejected(_answer("topic-bogus", {"valueBoolean": True}))[0][1].startswith("linkId 'topic-bogus' is not")
    heading = _rejected(_answer("topic-referral", {"valueBoolean": True}))[0][1]
    assert heading == "item 'topic-referral' is a heading or help text: it takes no answer"


@pytest.mark.parametrize(
    ("link", "answer", "says"),
    [
        ("red_flags.saddle_anaesthesia", {"valueString": "yes"}, "a boolean question takes valueBoolean"),
        ("pain.intensity_nrs", {"valueDecimal": 6.5}, "an integer question takes valueInteger"),
        ("pain.intensity_nrs", {"valueInteger": 11}, "11 is above the greatest value, 10"),
        ("pain.duration_months", {"valueInteger": 6}, "a decimal question takes valueDecimal"),
        ("demographics.sex", {"valueCoding": {"system": "http://x", "code": "female"}}, "not one of"),
        ("demographics.sex", {"valueString": "female"}, "a choice question takes valueCoding"),
    ],
)
def test_a_wrong_answer_type_is_rejected_naming_the_link_id(link: str, answer: dict[str, Any], says: str) -> None:
    problems = _rejected(_answer(link, answer))
    assert len(problems) == 1
    location, message = problems[0]
    assert location == f"QuestionnaireResponse/qr1#{link}" and f"item '{link}'" in message and says in message


def test_two_answers_to_a_single_item_and_none_with_others_are_rejected() -> None:
    response = response_from(questionnaire(), {"demographics.age": 52, "care.medicines_current": []}, AS_OF)
    items = response["item"]
    age = next(i for g in items for i in g["item"] if i["linkId"] == "demographics.age")
    age["answer"].append({"valueInteger": 53})
    medicines = next(i for g in items for i in g["item"] if i["linkId"] == "care.medicines_current")
    medicines["answer"].append(
        {"valueCoding": {"system": "https://painpath.org/fhir/CodeSystem/answer", "code": "paracetamol"}}
    )
    messages = [m for _, m in _rejected(response)]
    assert any("'demographics.age' takes one answer, got 2" in m for m in messages)
    assert any("'none of these' cannot be given with other answers" in m for m in messages)


def test_a_response_that_is_not_valid_r4_is_rejected_naming_the_element() -> None:
    response = response_from(questionnaire(), {"demographics.age": 52}, AS_OF)
    response["authored"] = "last Tuesday"
    assert any(location.startswith("authored") for location, _ in _rejected(response))


def test_a_response_to_another_questionnaire_is_read_leniently() -> None:
    response = _answer("red_flags.saddle_anesthesia", {"valueBoolean": True})
    response["questionnaire"] = "https://example.org/Questionnaire/other"
    mapped = facts_from_fhir(response, as_of=AS_OF)
    assert mapped.facts.demographics.age == 52
    assert any(i.code == "unknown-code" and "saddle_anesthesia" in i.source for i in mapped.issues)


def test_answers_older_than_their_limit_are_stale_unless_assessed_as_of_then() -> None:
    answered = datetime.date(2019, 3, 4)
    response = response_from(questionnaire(), {"pain.intensity_nrs": 7, "demographics.age": 40}, answered)
    today = facts_from_fhir(response, as_of=AS_OF)
    assert today.facts.pain.intensity_nrs is None
    assert {i.fact for i in today.issues if i.code == "stale"} == {"pain.intensity_nrs", "demographics.age"}
    then = facts_from_fhir(response, as_of=datetime.date(2019, 3, 20))
    assert then.facts.pain.intensity_nrs == 7 and not [i for i in then.issues if i.code == "stale"]
