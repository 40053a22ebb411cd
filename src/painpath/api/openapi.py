"""The OpenAPI document: shared response declarations and the schemas FastAPI cannot infer.

The request body of ``POST /v1/evaluations`` is read raw (to count its bytes, keep it exactly and
report problems in painpath's own terms), so its schema, ``PatientFacts``, is added here by hand,
as is ``ProblemDetails`` for every error response. The example decision is produced by the engine
that is actually loaded, so it always matches the running ruleset.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from painpath.api.examples import CAUDA_EQUINA_FACTS, FACTS_EXAMPLES, MISSPELT_FACTS_PROBLEM
from painpath.api.problems import PROBLEM_MEDIA_TYPE, ProblemDetails
from painpath.cds.models import Discovery, Feedback, HookRequest, HookResponse, OperationOutcome
from painpath.cds.services import load_catalogue
from painpath.engine import Engine, decision_to_dict
from painpath.facts import PatientFacts, parse_facts
from painpath.fhir.mapping import BUNDLE_TYPES

REF = "#/components/schemas/{model}"
PROBLEM_SCHEMA = {"$ref": REF.format(model="ProblemDetails")}

_DESCRIPTIONS = {
    401: "No API key, or one that is malformed, unknown or revoked.",
    403: "The API key's role does not have the permission this operation needs.",
    404: "No such resource.",
    409: "The recorded decision cannot be re-derived (its ruleset was not archived, or re-deriving it gave another "
    "decision).",
    410: "The decision was recorded but its content has been pruned by the retention policy; the problem gives its "
    "id and date.",
    413: "The request body is over the configured limit (default 1 MiB; 16 MiB for `application/fhir+json`).",
    415: "The request body is not `application/json`.",
    422: "The input is invalid; `errors` names each field, the reason and a suggestion.",
    429: "Too many audit jobs are queued or running (for this API key, or in all); retry after `Retry-After` seconds.",
    503: "The decision log is unavailable; retry after `Retry-After` seconds.",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": '`Bearer realm="painpath"` (RFC 6750).', "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}},
}

FACTS_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Facts about one patient. Every fact is optional; an omitted fact is *not recorded*, "
        "never *no*. Unknown fields are rejected with a suggestion. As `application/fhir+json`: a FHIR R4 Bundle "
        "(`FhirBundle`) or a QuestionnaireResponse on its own (`FhirQuestionnaireResponse`, e.g. to "
        "`GET /fhir/Questionnaire/painpath-msk`).",
        "content": {
            "application/json": {"schema": {"$ref": REF.format(model="PatientFacts")}, "examples": FACTS_EXAMPLES},
            # The schema stays the Bundle's: a QuestionnaireResponse alone (FhirQuestionnaireResponse) is
            # described, not offered as a oneOf, because the stateful fuzz test then never follows the link
            # from a new decision (tests/api/test_api_fuzz.py).
            "application/fhir+json": {
                "schema": {"$ref": REF.format(model="FhirBundle")},
                "x-painpath-also": {"$ref": REF.format(model="FhirQuestionnaireResponse")},
            },
        },
    }
}


FHIR_CODE = r"^[^\s]+(\s[^\s]+)*$"
FHIR_BUNDLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR R4 Bundle (see docs/fhir.md for the resources and codes read). The Bundle itself must "
    "be valid R4 (its entries' resources are checked one by one and reported in the decision's `fhir.issues`).",
    "required": ["resourceType", "type"],
    "additionalProperties": False,
    "properties": {
        "resourceType": {"const": "Bundle"},
        "id": {"type": "string", "pattern": r"^[A-Za-z0-9\-.]{1,64}$"},
        "meta": {"type": "object"},
        "implicitRules": {"type": "string", "pattern": r"^\S+$"},
        "language": {"type": "string", "pattern": FHIR_CODE},
        "identifier": {"type": "object"},
        "type": {"enum": list(BUNDLE_TYPES), "description": "FHIR R4 BundleType (a required binding)."},
        "timestamp": {"type": "string", "format": "date-time"},
        "total": {"type": "integer", "minimum": 0},
        "link": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["relation", "url"],
                "properties": {
                    "relation": {"type": "string", "pattern": r"^\S+( \S+)*$"},
                    "url": {"type": "string", "pattern": r"^\S+$"},
                },
            },
        },
        "entry": {"type": "array", "items": {"type": "object"}},
        "signature": {"type": "object"},
    },
}

FHIR_QUESTIONNAIRE_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A FHIR R4 QuestionnaireResponse on its own, mapped as a Bundle holding just it. A response to "
    "painpath's Questionnaire (`questionnaire` = https://painpath.org/fhir/Questionnaire/painpath-msk, served at "
    "`GET /fhir/Questionnaire/painpath-msk`) must fit it: an unknown linkId or an answer of the wrong type is 422 "
    "naming the linkId. It must be valid R4 (422 naming the element otherwise).",
    "required": ["resourceType", "status"],
    "properties": {
        "resourceType": {"const": "QuestionnaireResponse"},
        "questionnaire": {"type": "string"},
        "status": {"enum": ["in-progress", "completed", "amended", "entered-in-error", "stopped"]},
        "authored": {"type": "string", "description": "When answered: staleness is measured from `as_of` to it."},
        "item": {"type": "array", "items": {"type": "object"}},
    },
}


def problems(*codes: int, examples: dict[int, dict[str, Any]] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the given error statuses, as problem+json."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        content: dict[str, Any] = {"schema": PROBLEM_SCHEMA}
        if examples and code in examples:
            content["example"] = examples[code]
        entry: dict[str, Any] = {"description": _DESCRIPTIONS[code], "content": {PROBLEM_MEDIA_TYPE: content}}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        out[code] = entry
    return out


AUTH_PROBLEMS = problems(401, 403)
INVALID_FACTS_EXAMPLE = {422: MISSPELT_FACTS_PROBLEM}


def _add_schemas(components: dict[str, Any], schema: dict[str, Any], name: str) -> None:
    defs = schema.pop("$defs", {})
    for def_name, definition in {**defs, name: schema}.items():
        existing = components.get(def_name)
        if existing is not None and existing != definition:
            raise RuntimeError(f"OpenAPI schema name clash: {def_name}")
        components[def_name] = definition


def build_openapi(app: FastAPI, engine: Engine) -> dict[str, Any]:
    """The whole OpenAPI document for ``app``."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    _add_schemas(components, PatientFacts.model_json_schema(ref_template=REF, mode="validation"), "PatientFacts")
    _add_schemas(components, ProblemDetails.model_json_schema(ref_template=REF, mode="serialization"), "ProblemDetails")
    components["FhirBundle"] = FHIR_BUNDLE_SCHEMA
    components["FhirQuestionnaireResponse"] = FHIR_QUESTIONNAIRE_RESPONSE_SCHEMA
    for model, mode in (
        (HookRequest, "validation"),
        (Feedback, "validation"),
        (HookResponse, "serialization"),
        (Discovery, "serialization"),
        (OperationOutcome, "serialization"),
    ):
        _add_schemas(components, model.model_json_schema(ref_template=REF, mode=mode), model.__name__)  # type: ignore[arg-type]
    example = json.loads(json.dumps(decision_to_dict(engine.evaluate(parse_facts(CAUDA_EQUINA_FACTS)))))
    doc["components"]["examples"] = {
        "CaudaEquinaDecision": {"summary": "The decision for the cauda_equina facts example", "value": example}
    }
    for path, method, status in (("/v1/evaluations", "post", "201"), ("/v1/evaluations/{decision_id}", "get", "200")):
        content = doc["paths"][path][method]["responses"][status]["content"]["application/json"]
        content["examples"] = {"cauda_equina": {"$ref": "#/components/examples/CaudaEquinaDecision"}}
    _example_ids(doc, "/v1/rules/{rule_id}", [r.id for r in engine.ruleset.rules])
    _example_ids(doc, "/v1/guidelines/{guideline_id}", sorted(engine.ruleset.guidelines))
    services = sorted(load_catalogue().by_id)
    _example_ids(doc, "/cds-services/{service_id}", services, "post")
    _example_ids(doc, "/cds-services/{service_id}/feedback", services, "post")
    return doc


def _example_ids(doc: dict[str, Any], path: str, ids: list[str], method: str = "get") -> None:
    """Name real ids (of the loaded ruleset, or of the CDS services) as the path parameter's examples."""
    if not ids:
        return
    for parameter in doc["paths"][path][method]["parameters"]:
        if parameter["in"] == "path":
            parameter["examples"] = {i: {"value": i} for i in ids[:3]}
