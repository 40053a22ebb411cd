"""``/fhir``: FHIR R4 definitions painpath publishes (the SDC Questionnaire ``painpath-msk``)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from painpath.api.deps import MayReadRules
from painpath.api.limits import FHIR_MEDIA_TYPE
from painpath.api.openapi import AUTH_PROBLEMS
from painpath.fhir import questionnaire

router = APIRouter(prefix="/fhir", tags=["fhir"])

_QUESTIONNAIRE_BODY: bytes | None = None


def _questionnaire_body() -> bytes:
    global _QUESTIONNAIRE_BODY  # noqa: PLW0603 (the document is fixed for the process: encoded once)
    if _QUESTIONNAIRE_BODY is None:
        _QUESTIONNAIRE_BODY = orjson.dumps(questionnaire())
    return _QUESTIONNAIRE_BODY


_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The FHIR R4 SDC Questionnaire: one item per fact (linkId = the fact path) under one group per "
        "topic; the same document as fhir/Questionnaire-painpath-msk.json in the repository.",
        "content": {FHIR_MEDIA_TYPE: {"schema": {"type": "object", "required": ["resourceType", "item"]}}},
    }
}


@router.get(
    "/Questionnaire/painpath-msk",
    operation_id="readQuestionnaire",
    summary="The SDC Questionnaire of every fact",
    description="A FHIR R4 SDC Questionnaire generated from painpath's question catalogue, for an EHR form: one "
    "item per fact (`linkId` = the fact path, plain-language text, type boolean / integer / decimal / choice, "
    "answerOptions for categories and lists, the LOINC code where one exists), grouped by topic in consultation "
    "order. A QuestionnaireResponse to it (`questionnaire` = its `url`) can be sent to `POST /v1/evaluations` "
    "(`Content-Type: application/fhir+json`), alone or in a Bundle. Needs the `read_rules` permission.",
    response_class=Response,
    responses={**_RESPONSE, **AUTH_PROBLEMS},
)
def read_questionnaire(caller: MayReadRules) -> Response:
    return Response(_questionnaire_body(), media_type=FHIR_MEDIA_TYPE)
