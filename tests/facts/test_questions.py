"""The question catalogue: every fact has a plain-language question, and broken copies are rejected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from painpath.errors import RulesValidationError
from painpath.facts import CATALOGUE
from painpath.facts.questions import BOOLEAN_ANSWERS, QUESTIONS_FILE, default_guidelines_dir, load_questions

GUIDELINES = Path(__file__).resolve().parents[2] / "guidelines"
_SCORE_PROMPT = re.compile(r"\((\d+)-(\d+)\)$")


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(QUESTIONS_FILE.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return data


def _rejected(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = tmp_path / "questions.yaml"
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8")
    with pytest.raises(RulesValidationError) as exc:
        load_questions(path, GUIDELINES)
    return [p.render() for p in exc.value.problems]


def test_the_bundled_catalogue_loads() -> None:
    catalogue = load_questions()
    assert catalogue.version == 1
    assert load_questions() is catalogue  # the default load is cached
    assert default_guidelines_dir().resolve() == GUIDELINES


def test_every_catalogue_fact_has_exactly_one_question() -> None:
    catalogue = load_questions()
    assert [q.path for q in catalogue.questions] == list(_raw()["questions"])
    assert {q.path for q in catalogue.questions} == set(CATALOGUE)
    assert not any(path.startswith("derived.") for path in _raw()["questions"])
    assert catalogue.question("red_flags.saddle_anaesthesia").topic == "cauda_equina"


def test_every_question_is_a_question_or_a_score_prompt_with_the_instrument_range() -> None:
    for q in load_questions().questions:
        spec = CATALOGUE[q.path]
        if q.text.endswith("?"):
            continue
        match = _SCORE_PROMPT.search(q.text)
        assert match, f"{q.path}: '{q.text}' neither asks a question nor ends with a score range"
        assert spec.kind in ("integer", "number"), q.path
        assert (float(match[1]), float(match[2])) == (spec.minimum, spec.maximum), q.path


def test_questions_do_not_show_fact_paths() -> None:
    for q in load_questions().questions:
        for text in (q.text, q.help):
            assert q.path not in text and "_" not in text, q.path


def test_answers_label_every_value_and_numbers_have_units() -> None:
    for q in load_questions().questions:
        spec = CATALOGUE[q.path]
        keys = tuple(k for k, _ in q.answers)
        if spec.kind == "boolean":
            assert keys == BOOLEAN_ANSWERS and q.unit is None
            assert q.label(True) == "Yes" and q.label(False) == "No"
        elif spec.kind in ("enum", "set"):
            assert set(keys) == set(spec.values) and q.unit is None
        else:
            assert keys == () and q.unit


def test_topics_are_in_consultation_order_and_every_topic_is_used() -> None:
    catalogue = load_questions()
    ids = [t.id for t in catalogue.topics]
    assert ids[:3] == ["referral", "patient", "cauda_equina"]
    assert ids[-4:] == ["mental_health", "function", "care", "readiness"]
    assert [t.id for t in catalogue.by_topic()] == ids
    assert ids.index("pain") < ids.index("start_back") < ids.index("phq9") < ids.index("mental_health")


def test_each_red_flag_topic_with_two_yes_no_items_has_a_none_of_these_group() -> None:
    catalogue = load_questions()
    for topic, questions in catalogue.by_topic().items():
        booleans = [q for q in questions if CATALOGUE[q.path].kind == "boolean"]
        if all(q.path.startswith("red_flags.") for q in questions) and len(booleans) >= 2:
            assert catalogue.groups_for(topic.id), f"no 'none of these' group for {topic.id}"
    (mh,) = catalogue.groups_for("mental_health")
    assert ("mental_health.suicidal_plans", False) in mh.sets
    cauda = dict(catalogue.groups_for("cauda_equina")[0].sets)
    assert cauda == {
        "red_flags.saddle_anaesthesia": False,
        "red_flags.bladder_dysfunction": False,
        "red_flags.bowel_dysfunction": False,
        "red_flags.sexual_dysfunction": False,
        "red_flags.bilateral_sciatica": False,
    }


def test_groups_set_only_yes_no_facts_of_their_own_topic() -> None:
    catalogue = load_questions()
    for group in catalogue.groups:
        for path, value in group.sets:
            assert catalogue.question(path).topic == group.topic, (group.id, path)
            assert value is False, (group.id, path)
    # a test result is never answered by "none of these"
    assert all(p != "red_flags.raised_inflammatory_markers" for g in catalogue.groups for p, _ in g.sets)


def test_instrument_totals_cite_their_instrument() -> None:
    catalogue = load_questions()
    expected = {
        "instruments.phq9.total": "kroenke-phq9-2001",
        "instruments.gad7.total": "spitzer-gad7-2006",
        "instruments.start_back.total": "hill-startback-2011",
        "instruments.odi.percent": "fairbank-odi-2000",
        "instruments.isi.total": "morin-isi-2011",
        "instruments.tsk17.total": "vlaeyen-tsk-1995",
        "instruments.csi.total": "neblett-csi-2013",
        "instruments.bpi.interference": "eppoc-bpi",
        "instruments.pcs.total": "sullivan-pcs-1995",
        "instruments.pseq.total": "nicholas-pseq-2007",
    }
    for path, gid in expected.items():
        assert gid in catalogue.question(path).cites, path


def test_an_unknown_path_asks_with_a_suggestion() -> None:
    with pytest.raises(KeyError, match=re.escape("did you mean 'red_flags.saddle_anaesthesia'")):
        load_questions().question("red_flags.saddle_anesthesia")


# --- broken copies ---------------------------------------------------------------------------


def test_a_missing_fact_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    del data["questions"]["red_flags.bowel_dysfunction"]
    problems = _rejected(tmp_path, data)
    assert any("red_flags.bowel_dysfunction: this fact has no question" in p for p in problems)


def test_a_question_for_no_fact_is_rejected_with_a_suggestion(tmp_path: Path) -> None:
    data = _raw()
    data["questions"]["red_flags.saddle_anesthesia"] = data["questions"]["red_flags.saddle_anaesthesia"]
    problems = _rejected(tmp_path, data)
    assert any(
        "red_flags.saddle_anesthesia: not a fact of the catalogue (did you mean 'red_flags.saddle_anaesthesia'?)" in p
        for p in problems
    )


def test_an_answer_key_that_is_not_an_enum_value_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    answers = data["questions"]["red_flags.hla_b27"]["answers"]
    answers["positve"] = answers.pop("positive")
    problems = _rejected(tmp_path, data)
    assert any("red_flags.hla_b27.answers.positve: 'positve' is not a value" in p for p in problems)
    assert any("red_flags.hla_b27.answers: no label for positive" in p for p in problems)


def test_an_unquoted_boolean_answer_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "questions.yaml"
    text = QUESTIONS_FILE.read_text(encoding="utf-8").replace(
        'answers: {"true": "Yes", "false": "No"}',
        'answers: {true: "Yes", false: "No"}',
        2,  # the first is in the header comment
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesValidationError) as exc:
        load_questions(path, GUIDELINES)
    assert any("care.surgery_referral.answers" in p.location and "quoted" in p.message for p in exc.value.problems)


def test_a_number_with_answers_or_without_a_unit_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    data["questions"]["instruments.phq9.total"]["answers"] = {"0": "none"}
    data["questions"]["pain.duration_months"]["unit"] = None
    problems = _rejected(tmp_path, data)
    assert any("instruments.phq9.total.answers" in p for p in problems)
    assert any("pain.duration_months.unit" in p for p in problems)


def test_an_unknown_topic_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    data["questions"]["red_flags.fever"]["topic"] = "infections"
    problems = _rejected(tmp_path, data)
    assert any("red_flags.fever.topic: unknown topic 'infections' (did you mean 'infection'?)" in p for p in problems)


def test_an_unknown_cite_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    data["questions"]["instruments.phq9.total"]["cites"] = ["kroenke-phq9-2010"]
    problems = _rejected(tmp_path, data)
    assert any(
        "instruments.phq9.total.cites[0]: citation 'kroenke-phq9-2010' has no entry in guidelines/" in p
        and "kroenke-phq9-2001" in p
        for p in problems
    )


def test_a_group_setting_an_unknown_fact_or_a_wrong_value_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    sets = data["groups"][0]["sets"]
    sets["red_flags.saddle_numbness"] = False
    sets["red_flags.bladder_dysfunction"] = "no"
    problems = _rejected(tmp_path, data)
    assert any(
        "groups[0](no_cauda_equina_symptoms).sets.red_flags.saddle_numbness: not a fact of the catalogue" in p
        for p in problems
    )
    assert any(
        "sets.red_flags.bladder_dysfunction: 'no' is not a valid value of this boolean fact" in p for p in problems
    )


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    data = _raw()
    del data["questions"]["demographics.age"]
    data["questions"]["red_flags.fever"]["topic"] = "nowhere"
    data["questions"]["instruments.gad7.total"]["cites"] = ["nobody-2000"]
    assert len(_rejected(tmp_path, data)) == 3


def test_a_malformed_file_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    data["questions"]["red_flags.fever"]["txt"] = data["questions"]["red_flags.fever"].pop("text")
    problems = _rejected(tmp_path, data)
    assert any("questions.red_flags.fever.txt" in p for p in problems)
    (tmp_path / "bad.yaml").write_text("version: [", encoding="utf-8")
    with pytest.raises(RulesValidationError, match="cannot read YAML"):
        load_questions(tmp_path / "bad.yaml", GUIDELINES)
