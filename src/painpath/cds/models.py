"""Pydantic models of the CDS Hooks wire shapes (2.0.1, with the 3.0 additions), with the spec's invariants.

There is no official JSON Schema: the normative models are FHIR logical models with FHIRPath
invariants (``cds-r-*``, ``cds-resp-*``, ``cds-fb-*``, HL7/cds-hooks ``input/fsh``). Those invariants
are coded here as validators, each naming the invariant it enforces. Unknown members are rejected
(a misspelt field is an error); ``extension`` carries extensions as the spec requires.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FHIR_ID = r"^[A-Za-z0-9\-\.]{1,64}$"
"""A FHIR R4 ``id``: the only thing a context token may put into a prefetch query URL."""

SUMMARY_MAX = 140
"""A card summary is a "one-sentence, <140-character summary" (CDS Hooks 2.0.1, Card attributes)."""


class CdsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Coding(CdsModel):
    """CDS Hooks' own slim Coding: ``code`` and ``system`` are required."""

    code: str
    system: str
    display: str | None = None


class ServiceDefinition(CdsModel):
    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None
    version: str | None = None
    hookVersion: str | None = None
    extension: dict[str, Any] | None = None


class Discovery(CdsModel):
    services: list[ServiceDefinition]
    extension: dict[str, Any] | None = None


class FhirAuthorization(CdsModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=0)
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(CdsModel):
    hook: str
    hookInstance: str
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, dict[str, Any] | None] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _cds_r_1(self) -> HookRequest:
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("cds-r-1: fhirServer is required when fhirAuthorization is given")
        return self


class PatientViewContext(CdsModel):
    """``patient-view`` 1.0 context."""

    userId: str
    patientId: str = Field(
        pattern=FHIR_ID,
        description="A FHIR id: it is substituted into prefetch queries, so nothing else is accepted.",
    )
    encounterId: str | None = None


class OrderSignContext(PatientViewContext):
    """``order-sign`` 1.0 context: the orders about to be signed, as a FHIR Bundle."""

    draftOrders: dict[str, Any]

    @field_validator("draftOrders")
    @classmethod
    def _bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle" or not isinstance(value.get("entry", []), list):
            raise ValueError("draftOrders must be a FHIR Bundle")
        for i, entry in enumerate(value.get("entry", [])):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or not resource.get("resourceType") or not resource.get("id"):
                raise ValueError(f"draftOrders entry {i} needs a resource with a resourceType and an id")
        return value


class OrderSelectContext(OrderSignContext):
    """``order-select`` 1.0 context: ``selections`` name the newly selected draft orders."""

    selections: list[str] = Field(min_length=1)


HOOK_CONTEXTS: dict[str, type[PatientViewContext]] = {
    "patient-view": PatientViewContext,
    "order-sign": OrderSignContext,
    "order-select": OrderSelectContext,
}


class Source(CdsModel):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(CdsModel):
    type: Literal["create", "update", "delete"]
    description: str | None = None
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _target(self) -> Action:
        if self.type in ("create", "update") and self.resource is None:
            raise ValueError(f"a {self.type} action needs a resource")
        if self.type == "delete" and self.resourceId is None and self.resource is None:
            raise ValueError("cds-resp-2: a delete action names the resource to delete in resourceId")
        return self


class SuggestionAction(Action):
    description: str  # REQUIRED inside suggestions


class Suggestion(CdsModel):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[SuggestionAction] | None = None
    actionSelectionBehavior: Literal["all", "any", "at-most-one"] | None = None


class OverrideCoding(Coding):
    display: str  # cds-resp-4: REQUIRED for override reasons


class Link(CdsModel):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _cds_resp_3(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("cds-resp-3: appContext is only allowed on links of type smart")
        return self


class Card(CdsModel):
    uuid: str | None = None
    summary: str = Field(max_length=SUMMARY_MAX)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideCoding] | None = None
    links: list[Link] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _cds_resp_6(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("cds-resp-6: selectionBehavior is required when a card has suggestions")
        return self


class HookResponse(CdsModel):
    cards: list[Card]
    systemActions: list[Action] | None = None
    extension: dict[str, Any] | None = None


class AcceptedSuggestion(CdsModel):
    id: str


class OverrideReason(CdsModel):
    reason: Coding | None = None
    userComment: str | None = None

    @model_validator(mode="after")
    def _cds_fb_3(self) -> OverrideReason:
        if self.reason is None and self.userComment is None:
            raise ValueError("cds-fb-3: an override reason needs a reason or a userComment")
        return self


class FeedbackItem(CdsModel):
    card: str
    outcome: Literal["accepted", "overridden"]
    """cds-fb-1: the outcome is accepted or overridden."""
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: datetime.datetime
    extension: dict[str, Any] | None = None

    @field_validator("outcomeTimestamp")
    @classmethod
    def _utc(cls, value: datetime.datetime) -> datetime.datetime:
        if value.tzinfo is None:
            raise ValueError("outcomeTimestamp must be an RFC 3339 instant with a time zone (UTC)")
        return value.astimezone(datetime.UTC)

    @model_validator(mode="after")
    def _cds_fb(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("cds-fb-2: acceptedSuggestions is required when the outcome is accepted")
        return self


class Feedback(CdsModel):
    feedback: list[FeedbackItem] = Field(min_length=1)


class OutcomeIssue(CdsModel):
    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    diagnostics: str | None = None
    expression: list[str] | None = None


class OperationOutcome(CdsModel):
    """The error body of every CDS Hooks route (CDS Hooks 3.0: a FHIR OperationOutcome)."""

    resourceType: Literal["OperationOutcome"]
    issue: list[OutcomeIssue] = Field(min_length=1)
