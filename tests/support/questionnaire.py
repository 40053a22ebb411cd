"""Fill in painpath's SDC Questionnaire as an EHR form would: answers by linkId, read from the Questionnaire.

The form knows nothing of painpath's code tables or mapping: for each question item it reads the
item's ``type`` and ``answerOption`` list from the Questionnaire document and writes the answer of
that type (a ``choice`` answer is the option whose code is the value, or whose ``ordinalValue`` is
the score; a list answered empty is the exclusive "none of these" option).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"


def _walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from _walk(item.get("item", []))


def question_items(questionnaire: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """linkId -> item, for every item that takes an answer."""
    return {i["linkId"]: i for i in _walk(questionnaire["item"]) if i["type"] not in ("group", "display")}


def _extension(option: Mapping[str, Any], url: str) -> Any:
    for extension in option.get("extension", []):
        if extension["url"] == url:
            return next(v for k, v in extension.items() if k.startswith("value"))
    return None


def _option(item: Mapping[str, Any], value: Any) -> dict[str, Any]:
    for option in item["answerOption"]:
        coding = option["valueCoding"]
        if isinstance(value, str) and coding["code"] == value:
            return {"valueCoding": coding}
        ordinal = _extension(option, ORDINAL)
        if not isinstance(value, str) and ordinal is not None and ordinal == value:
            return {"valueCoding": coding}
    raise AssertionError(f"{item['linkId']}: no answerOption for {value!r}")


def _answers(item: Mapping[str, Any], value: Any) -> list[dict[str, Any]]:
    kind = item["type"]
    if kind == "boolean":
        return [{"valueBoolean": value}]
    if kind == "integer":
        return [{"valueInteger": value}]
    if kind == "decimal":
        return [{"valueDecimal": value}]
    if item.get("repeats"):
        if not value:
            none = next(o for o in item["answerOption"] if _extension(o, EXCLUSIVE))
            return [{"valueCoding": none["valueCoding"]}]
        return [_option(item, v) for v in value]
    return [_option(item, value)]


def response_from(
    questionnaire: Mapping[str, Any], flat: Mapping[str, Any], authored: datetime.date, id_: str = "qr1"
) -> dict[str, Any]:
    """A completed QuestionnaireResponse answering ``flat`` (fact path -> value), grouped as the Questionnaire is."""
    groups = []
    items = question_items(questionnaire)
    unknown = set(flat) - set(items)
    assert not unknown, f"facts without a Questionnaire item: {sorted(unknown)}"
    for group in questionnaire["item"]:
        answered = [
            {"linkId": q["linkId"], "text": q["text"], "answer": _answers(q, flat[q["linkId"]])}
            for q in group["item"]
            if q["linkId"] in flat
        ]
        if answered:
            groups.append({"linkId": group["linkId"], "text": group["text"], "item": answered})
    return {
        "resourceType": "QuestionnaireResponse",
        "id": id_,
        "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "authored": f"{authored.isoformat()}T09:30:00Z",
        "item": groups,
    }


def example_patients() -> dict[str, dict[str, Any]]:
    """The example patients (``examples/patients``) and the scenario vignettes' facts, by name."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((ROOT / "examples" / "patients").glob("*.json")):
        out[f"example/{path.stem}"] = json.loads(path.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "tests" / "scenarios").glob("*.yaml")):
        out[f"scenario/{path.stem}"] = yaml.safe_load(path.read_text(encoding="utf-8"))["facts"]
    return out
