"""Conformance: every example of the CDS Hooks specification against painpath's wire models.

Each official example (``tests/fixtures/cds-hooks``, see its README) is classified below; the valid
ones must be accepted and the known-bad ones rejected for the documented reason. A new file in the
folder that is not classified fails the suite, so nothing is skipped silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel, TypeAdapter, ValidationError

from painpath.cds.models import (
    Card,
    Discovery,
    Feedback,
    FhirAuthorization,
    HookRequest,
    HookResponse,
    OverrideCoding,
    Source,
    SuggestionAction,
)

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "cds-hooks"


class OverrideReasons(BaseModel):
    overrideReasons: list[OverrideCoding]


class PrefetchTemplates(BaseModel):
    prefetch: dict[str, str]


class ContextFragment(BaseModel):
    context: dict[str, Any]


class PrefetchData(BaseModel):
    prefetch: dict[str, dict[str, Any] | None]


class FhirAuthorizationExample(BaseModel):
    fhirAuthorization: FhirAuthorization


class SourceExample(BaseModel):
    source: Source


ACCEPTED: dict[str, type[BaseModel]] = {
    # published 2.0.1
    "v2.0.1-index-00": Discovery,
    "v2.0.1-index-01": HookRequest,
    "v2.0.1-index-02": PrefetchTemplates,
    "v2.0.1-index-03": ContextFragment,
    "v2.0.1-index-04": ContextFragment,
    "v2.0.1-index-05": ContextFragment,
    "v2.0.1-index-06": PrefetchTemplates,
    "v2.0.1-index-08": FhirAuthorizationExample,
    "v2.0.1-index-09": HookResponse,
    "v2.0.1-index-10": SourceExample,
    "v2.0.1-index-11": SuggestionAction,
    "v2.0.1-index-12": SuggestionAction,
    "v2.0.1-index-13": SuggestionAction,
    "v2.0.1-index-14": OverrideReasons,
    "v2.0.1-index-15": HookResponse,
    "v2.0.1-index-16": HookResponse,
    "v2.0.1-index-18": Feedback,
    "v2.0.1-index-19": Feedback,
    "v2.0.1-index-20": Feedback,
    "v2.0.1-index-25": HookRequest,
    "v2.0.1-index-26": Discovery,
    # 3.0 ballot
    "main-index-00": Discovery,
    "main-index-01": HookRequest,
    "main-index-02": PrefetchTemplates,
    "main-index-03": HookRequest,  # valid CDS Hooks; its FHIR ids are not (see below)
    "main-index-04": PrefetchTemplates,
    "main-index-05": PrefetchTemplates,
    "main-index-06": PrefetchTemplates,
    "main-index-08": ContextFragment,
    "main-index-09": PrefetchTemplates,
    "main-index-10": PrefetchData,
    "main-index-11": FhirAuthorizationExample,
    "main-index-12": HookResponse,
    "main-index-13": SourceExample,
    "main-index-14": SuggestionAction,
    "main-index-15": SuggestionAction,
    "main-index-16": SuggestionAction,
    "main-index-17": OverrideReasons,
    "main-index-18": HookResponse,
    "main-index-19": HookResponse,
    "main-index-21": Feedback,
    "main-index-22": Feedback,
    "main-index-23": Feedback,
    "main-index-28": HookRequest,
    "main-index-29": Discovery,
}
REJECTED = {
    # (model, location of the error, why)
    # Not in the shared README's list: the 2.0.1 prefetch-data example gives `"user": "123"`, a string
    # where a FHIR resource is required; the 3.0 text (main #10) corrected it to a Bundle.
    "v2.0.1-index-07": (PrefetchData, ("prefetch", "user"), "dict_type"),
    "v2.0.1-index-17": (HookResponse, ("cards", 0, "indicator"), "missing"),
    "main-index-20": (HookResponse, ("cards", 0, "indicator"), "missing"),
}
JWT = {f"v2.0.1-index-{n}" for n in range(21, 25)} | {f"main-index-{n}" for n in range(24, 28)}


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def test_every_vector_is_classified() -> None:
    names = {p.stem for p in VECTORS.glob("*.json")}
    assert names == set(ACCEPTED) | set(REJECTED) | JWT
    assert len(names) == 56


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_valid_examples_are_accepted(name: str) -> None:
    ACCEPTED[name].model_validate(load(name))


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_known_bad_examples_are_rejected_for_the_right_reason(name: str) -> None:
    model, location, kind = REJECTED[name]
    with pytest.raises(ValidationError) as info:
        model.model_validate(load(name))
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [(location, kind)]


def test_the_paginated_order_sign_example_has_fhir_invalid_ids() -> None:
    """3.0 #03 uses U+2011 inside ids: a FHIR validator must reject its resources (the README's defect)."""
    request = HookRequest.model_validate(load("main-index-03"))
    with pytest.raises(ValidationError) as info:
        Bundle.model_validate(request.context["draftOrders"])
    assert any(e["loc"][-1] == "id" or "id" in str(e["loc"]) for e in info.value.errors())
    ids = json.dumps(load("main-index-03"), ensure_ascii=False)
    assert "\u2011" in ids


@pytest.mark.parametrize(
    ("shape", "data", "invariant"),
    [
        (
            HookRequest,
            {
                "hook": "patient-view",
                "hookInstance": "x",
                "context": {},
                "fhirAuthorization": {
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": 1,
                    "scope": "s",
                    "subject": "c",
                },
            },
            "cds-r-1",
        ),
        (
            Card,
            {"summary": "s", "indicator": "info", "source": {"label": "l"}, "suggestions": [{"label": "x"}]},
            "cds-resp-6",
        ),
        (
            Card,
            {
                "summary": "s",
                "indicator": "info",
                "source": {"label": "l"},
                "links": [{"label": "x", "url": "https://a", "type": "absolute", "appContext": "{}"}],
            },
            "cds-resp-3",
        ),
        (
            Card,
            {
                "summary": "s",
                "indicator": "info",
                "source": {"label": "l"},
                "overrideReasons": [{"system": "s", "code": "c"}],
            },
            "display",
        ),
        (Card, {"summary": "x" * 141, "indicator": "info", "source": {"label": "l"}}, "140"),
        (Card, {"summary": "s", "indicator": "hard-stop", "source": {"label": "l"}}, "indicator"),
        (SuggestionAction, {"type": "delete", "description": "d"}, "cds-resp-2"),
        (
            Feedback,
            {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"}]},
            "cds-fb-2",
        ),
        (
            Feedback,
            {
                "feedback": [
                    {
                        "card": "c",
                        "outcome": "overridden",
                        "overrideReason": {},
                        "outcomeTimestamp": "2026-01-01T00:00:00Z",
                    }
                ]
            },
            "cds-fb-3",
        ),
        (
            Feedback,
            {"feedback": [{"card": "c", "outcome": "dismissed", "outcomeTimestamp": "2026-01-01T00:00:00Z"}]},
            "outcome",
        ),
        (
            Feedback,
            {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00"}]},
            "time zone",
        ),
        (Card, {"summary": "s", "indicator": "info", "source": {"label": "l"}, "sumary": "typo"}, "sumary"),
    ],
)
def test_each_invariant_is_enforced(shape: type[BaseModel], data: dict[str, Any], invariant: str) -> None:
    with pytest.raises(ValidationError) as info:
        shape.model_validate(data)
    assert invariant in str(info.value)


def test_override_reasons_and_cards_round_trip() -> None:
    response = HookResponse.model_validate(load("main-index-19"))
    again = HookResponse.model_validate(response.model_dump(exclude_none=True))
    assert again == response
    assert TypeAdapter(list[Card]).validate_python(load("v2.0.1-index-16")["cards"])
