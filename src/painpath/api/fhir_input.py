"""FHIR R4 Bundles and QuestionnaireResponses as evaluation input: decode, map to facts, report the mapping."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import orjson
import structlog

from painpath.api.auth import Caller
from painpath.api.issue import IssuedDecision, issue_decision
from painpath.api.settings import Settings
from painpath.api.state import Services
from painpath.engine import Trace
from painpath.errors import FactsValidationError, Problem
from painpath.fhir import FhirFacts, facts_from_fhir


def map_bundle(raw: bytes | Mapping[str, Any], settings: Settings, as_of: datetime.date | None = None) -> FhirFacts:
    """The facts of a Bundle or a QuestionnaireResponse (JSON text or decoded), assessed as of ``as_of``
    (default today); ``FactsValidationError`` if it is neither."""
    if isinstance(raw, bytes):
        try:
            bundle = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise FactsValidationError("invalid FHIR Bundle", [Problem("(root)", "the body is not JSON")]) from None
    else:
        bundle = raw
    return facts_from_fhir(
        bundle, as_of=as_of, max_age_days=settings.fhir_max_age_days, requester_setting=settings.cds_care_setting
    )


def facts_json(mapped: FhirFacts) -> bytes:
    """The mapped facts as the JSON the evaluator reads (with their sources in ``provenance``)."""
    return mapped.facts.model_dump_json(exclude_none=True).encode("utf-8")


def mapping_report(mapped: FhirFacts) -> dict[str, Any]:
    """The ``fhir`` member added to a decision made from a Bundle: sources and issues of each fact."""
    return {
        "fhir": {
            "patient": mapped.patient_ref,
            "sources": dict(mapped.sources),
            "issues": [i.as_dict() for i in mapped.issues],
        }
    }


async def issue_mapped_decision(
    services: Services,
    mapped: FhirFacts,
    caller: Caller,
    *,
    received: bytes | None = None,
    extra: Mapping[str, Any] | None = None,
    trace: Trace = "summary",
) -> IssuedDecision:
    """Evaluate and record the facts of a Bundle; the decision carries the mapping report (and ``extra``)."""
    request_id = str(structlog.contextvars.get_contextvars().get("request_id", ""))
    return await issue_decision(
        services.evaluator,
        services.store.decisions,
        facts_json(mapped),
        caller,
        request_id,
        trace,
        received=received,
        extra={**mapping_report(mapped), **(extra or {})},
    )


def prefers_fhir(accept: str | None) -> bool:
    """Whether the client asked for ``application/fhir+json`` (a GuidanceResponse)."""
    return bool(accept) and "application/fhir+json" in str(accept).lower()
