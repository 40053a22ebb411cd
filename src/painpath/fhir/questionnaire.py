"""The FHIR R4 SDC Questionnaire ``painpath-msk``, generated from the question catalogue.

One item per fact of the catalogue (``painpath.facts.questions``), ``linkId`` = the fact path, under
one group per catalogue topic in consultation order. Yes/no facts are ``boolean`` items, whole
numbers ``integer``, other numbers ``decimal`` (with the catalogue's bounds as ``minValue`` /
``maxValue``), categories ``choice`` and lists ``choice`` with ``repeats`` (answer codes in painpath's
answer system, plus an exclusive "none of these" that records the list as empty). A number with a
standard scored answer list (PHQ-9 item 9: LOINC LL358-3) is a ``choice`` of the LOINC answers, each
with its ``ordinalValue``. Where the code tables give a standard code for a fact (LOINC), the item
carries it in ``code``. The catalogue's help text is a ``display`` child with the SDC item control
``help``. The question catalogue has no conditional questions, so no item has ``enableWhen``.

The document is checked with the ``fhir.resources.R4B`` model when built. A copy is kept in the
repository (``fhir/Questionnaire-painpath-msk.json``): ``python -m painpath.fhir --write``
(``make questionnaire``) regenerates it, ``--check`` fails when it differs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fhir.resources.R4B.questionnaire import Questionnaire

from painpath.facts.catalogue import CATALOGUE
from painpath.facts.questions import Question, load_questions
from painpath.fhir.codes import CodeIndex, default_code_index

QUESTIONNAIRE_ID = "painpath-msk"
QUESTIONNAIRE_URL = f"https://painpath.org/fhir/Questionnaire/{QUESTIONNAIRE_ID}"
QUESTIONNAIRE_FILE = Path(__file__).resolve().parents[3] / "fhir" / f"Questionnaire-{QUESTIONNAIRE_ID}.json"
NONE_ANSWER = "none"
"""The answer code of "none of these" for a list fact: the list is recorded as empty (not unknown)."""
SDC_PROFILE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"

ItemType = Literal["boolean", "integer", "decimal", "choice"]
_NOTE = "GENERATED from the question catalogue by `make questionnaire`; do not edit by hand."


@dataclass(frozen=True)
class ItemSpec:
    """What an answer to one question item must be, and the fact it sets."""

    link_id: str
    path: str
    type: ItemType
    repeats: bool = False
    options: Mapping[tuple[str, str], Any] | None = None
    """For ``choice`` items: answer coding ``(system, code)`` -> the fact's value (``None`` for "none")."""


def _kind_type(kind: str, scored: bool) -> ItemType:
    if kind == "boolean":
        return "boolean"
    if kind == "integer":
        return "choice" if scored else "integer"
    if kind == "number":
        return "decimal"
    return "choice"


def _bounds(path: str, item_type: ItemType) -> list[dict[str, Any]]:
    spec = CATALOGUE[path]
    out: list[dict[str, Any]] = []
    for url, bound in ((MIN_VALUE, spec.minimum), (MAX_VALUE, spec.maximum)):
        if bound is None:
            continue
        if item_type == "integer":
            out.append({"url": url, "valueInteger": int(bound)})
        else:
            out.append({"url": url, "valueDecimal": bound})
    return out


def _options(question: Question, codes: CodeIndex) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """The answerOptions of a choice item and the value each coding stands for."""
    spec = CATALOGUE[question.path]
    options: list[dict[str, Any]] = []
    values: dict[tuple[str, str], Any] = {}
    row = next((o for o in codes.tables.observations if o.fact == question.path and o.answers), None)
    if spec.kind == "integer" and row is not None and row.answers is not None:
        for answer in codes.tables.answer_lists[row.answers]:
            options.append(
                {
                    "valueCoding": {"system": answer.system, "code": answer.code, "display": answer.display},
                    "extension": [{"url": ORDINAL_VALUE, "valueDecimal": answer.score}],
                }
            )
            values[(answer.system, answer.code)] = answer.score
        return options, values
    system = codes.tables.answer_system
    for value, label in question.answers:
        options.append({"valueCoding": {"system": system, "code": value, "display": label}})
        values[(system, value)] = value
    if spec.kind == "set":
        options.append(
            {
                "valueCoding": {"system": system, "code": NONE_ANSWER, "display": "None of these"},
                "extension": [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}],
            }
        )
        values[(system, NONE_ANSWER)] = None
    return options, values


def _standard_code(path: str, codes: CodeIndex) -> dict[str, str] | None:
    system, code, display = codes.code_for_fact(path)
    if system == codes.tables.painpath_system:
        return None
    return {"system": system, "code": code, "display": display}


def _item(question: Question, codes: CodeIndex) -> tuple[dict[str, Any], ItemSpec]:
    path = question.path
    spec = CATALOGUE[path]
    scored = bool(codes.scores.get(path))
    item_type = _kind_type(spec.kind, scored)
    item: dict[str, Any] = {"linkId": path, "text": question.text, "type": item_type}
    code = _standard_code(path, codes)
    if code is not None:
        item["code"] = [code]
    if item_type in ("integer", "decimal"):
        item["extension"] = _bounds(path, item_type)
    values: dict[tuple[str, str], Any] | None = None
    if item_type == "choice":
        options, values = _options(question, codes)
        item["answerOption"] = options
    if spec.kind == "set":
        item["repeats"] = True
    item["item"] = [
        {
            "linkId": f"{path}.help",
            "text": question.help,
            "type": "display",
            "extension": [
                {
                    "url": ITEM_CONTROL,
                    "valueCodeableConcept": {
                        "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "help", "display": "Help-Button"}]
                    },
                }
            ],
        }
    ]
    return item, ItemSpec(path, path, item_type, spec.kind == "set", values)


@functools.cache
def _built() -> tuple[dict[str, Any], Mapping[str, ItemSpec], frozenset[str]]:
    questions = load_questions()
    codes = default_code_index()
    groups: list[dict[str, Any]] = []
    specs: dict[str, ItemSpec] = {}
    headings: set[str] = set()
    for topic, members in questions.by_topic().items():
        items = []
        for question in members:
            item, item_spec = _item(question, codes)
            items.append(item)
            specs[item_spec.link_id] = item_spec
            headings.update(child["linkId"] for child in item["item"])
        headings.add(f"topic-{topic.id}")
        groups.append({"linkId": f"topic-{topic.id}", "text": topic.title, "type": "group", "item": items})
    document: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "meta": {"profile": [SDC_PROFILE]},
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">painpath: chronic musculoskeletal pain assessment '
            f"({len(specs)} questions in {len(groups)} sections). {_NOTE}</div>",
        },
        "url": QUESTIONNAIRE_URL,
        "version": f"questions-{questions.version}.codes-{codes.tables.version}",
        "name": "PainpathMsk",
        "title": "painpath chronic musculoskeletal pain assessment",
        "status": "draft",
        "experimental": True,
        "subjectType": ["Patient"],
        "publisher": "painpath",
        "description": "Every fact painpath's rules read, asked in plain language, one item per fact "
        "(linkId = the fact path). Unanswered items stay unknown: unknown is not 'no'. Codes not marked "
        "verified in painpath's code tables must be checked against the official releases before clinical use.",
        "item": groups,
    }
    Questionnaire.model_validate(document)
    return document, specs, frozenset(headings)


def questionnaire() -> dict[str, Any]:
    """The Questionnaire as FHIR JSON (decoded; validated with the R4B model). Do not modify it."""
    return _built()[0]


def questionnaire_items() -> Mapping[str, ItemSpec]:
    """linkId -> what its answers must be, for every question item of the Questionnaire."""
    return _built()[1]


def questionnaire_headings() -> frozenset[str]:
    """The linkIds of the Questionnaire's groups and help texts (items that take no answer)."""
    return _built()[2]


def questionnaire_text() -> str:
    """The Questionnaire as the text kept in the repository (indented, keys in order)."""
    return json.dumps(questionnaire(), indent=2, ensure_ascii=False) + "\n"
