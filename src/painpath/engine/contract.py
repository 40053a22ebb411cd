"""The decision JSON contract: pydantic models of exactly what ``render.decision_to_dict`` produces.

``schemas/decision.schema.json`` is generated from :class:`DecisionDocument` (``python -m
painpath.schemas --write``); docs/decision-format.md explains every section. The models are strict
(``extra="forbid"``): a key the renderer adds without documenting it here fails the contract tests
instead of slipping into clients unnoticed. A key that the renderer omits when it has no value (for
example ``instead`` or ``waiting_on_rules``) is optional here and never ``null``.

The status vocabularies repeat those of the rule language (``engine.language``) plus the values
only the engine produces (``undetermined``, ``unknown``); a test keeps the two in step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from painpath.engine.decision import RuleStatus, ScreenStatus
from painpath.engine.language import Urgency

PmpStatus = Literal["recommended", "not_yet", "not_suitable", "not_indicated", "undetermined"]
Setting = Literal[
    "outpatient", "residential", "young_adult", "paediatric_service", "case_management_first", "undetermined"
]
PathwayStatus = Literal["recommended", "consider", "not_recommended", "undetermined"]
AdherenceStatus = Literal["met", "not_met", "not_applicable", "unknown"]
Truth = Literal["true", "false", "unknown"]
Operator = Literal[
    "eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains_any", "contains_all", "recorded"
]  # fmt: skip
LIN_RECOMMENDATIONS = tuple(str(n) for n in range(1, 12))
"""The eleven best-practice recommendations of Lin et al. 2019, always present in ``best_practice``."""

RuleId = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
FactPath = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$")]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _lin_keys(schema: dict[str, Any]) -> None:
    schema.pop("default", None)
    schema["required"] = list(LIN_RECOMMENDATIONS)


def _optional(description: str) -> Any:
    """A key the renderer leaves out when it has nothing to say (never ``null`` in the JSON)."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecisionEngine(Contract):
    name: Literal["painpath"]
    version: str
    evaluator: Literal["durable", "kleene"] = Field(
        description="`durable`: durable-rules cross-checked by the Kleene evaluator; `kleene`: Kleene only."
    )


class DecisionRuleset(Contract):
    name: str
    version: str
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 over the ruleset's source files.")


class DecisionParameter(Contract):
    value: Any = Field(description="The value in force for this evaluation.")
    source: Literal["default", "site", "request"]
    cites: list[str] = Field(description="Guideline ids supporting the parameter.")


class DecisionRuleRef(Contract):
    id: RuleId
    version: str
    cites: list[str] = Field(min_length=1, description="`guideline-id` or `guideline-id#section`.")


class DecisionClause(Contract):
    """One comparison of a rule's condition, with the fact's value and its three-valued result."""

    fact: str = Field(description="Fact path, or a derived fact (`derived.*`).")
    op: Operator
    expected: Any = Field(description="The value compared against (a parameter's value in force when `parameter`).")
    actual: Any = Field(description="The recorded value, or null when not recorded.")
    result: Truth
    parameter: str | SkipJsonSchema[None] = _optional("The named parameter the expected value comes from.")
    negated: Literal[True] | SkipJsonSchema[None] = _optional("The comparison sits under a `not`.")
    label: str | SkipJsonSchema[None] = _optional("The rule author's label for the comparison.")


class DecisionReason(Contract):
    """A fired rule's contribution to a section."""

    rule: DecisionRuleRef
    text: str
    instead: str | SkipJsonSchema[None] = _optional("What to do instead (exclusions, deferrals).")


class DecisionRedFlagFinding(Contract):
    condition: str
    urgency: Urgency
    action: str
    rule: DecisionRuleRef
    explanation: str
    facts_used: list[DecisionClause] = Field(description="The comparisons that made the rule fire.")


class DecisionRedFlags(Contract):
    status: ScreenStatus = Field(
        description="`absent` only when every required screening item was answered and no red-flag rule fired "
        "or is undetermined; an unanswered question never yields `absent`."
    )
    findings: list[DecisionRedFlagFinding] = Field(description="Most urgent first.")
    missing: list[str] = Field(description="What the screen still needs answered.")


class DecisionSafetyAlert(DecisionReason):
    alert: str
    urgency: Urgency


class DecisionResolved(Contract):
    """A status resolved by precedence from the rules that concluded on it (the shared part)."""

    reasons: list[DecisionReason] = Field(description="Every fired rule that concluded the status.")
    waiting_on_rules: list[RuleId] | SkipJsonSchema[None] = _optional(
        "When the status is `undetermined` (or `unknown`): the undetermined rules that could change it."
    )


class DecisionPmp(DecisionResolved):
    status: PmpStatus
    setting: Setting | None = Field(description="Resolved only when the PMP is `recommended`; otherwise null.")
    setting_reasons: list[DecisionReason]
    preparation: list[str] = Field(description="For `recommended`: how the GP should present the PMP.")


class DecisionPathway(DecisionResolved):
    option: str
    status: PathwayStatus
    evidence: str | None


class DecisionAdherence(DecisionResolved):
    status: AdherenceStatus
    advice: list[str] = Field(description="For `not_met`: what would close the gap.")


class DecisionMissingFact(Contract):
    fact: FactPath
    description: str
    needed_by: list[RuleId] = Field(description="Undetermined rules that need the fact (empty for screen items).")


class DecisionRuleTrace(Contract):
    """The trace: one entry per evaluated rule, in evaluation order."""

    id: RuleId
    version: str
    title: str
    stratum: str
    status: RuleStatus
    cites: list[str] = Field(min_length=1)
    facts_used: dict[str, Any] = Field(description="Every fact the rule reads, with its value (null: not recorded).")
    because: list[DecisionClause] = Field(description="The comparisons that decided the status.")
    explanation: str | SkipJsonSchema[None] = _optional("When `fired`: the rule's explanation.")
    missing: list[str] | SkipJsonSchema[None] = _optional("When `undetermined`: the facts that would settle it.")


class DecisionRuleBrief(Contract):
    """A rule in a ``summary`` trace: no clauses (``trace=full`` gives them); an undetermined rule lists
    the facts that would settle it."""

    id: RuleId
    version: str
    stratum: str
    status: RuleStatus
    because: list[DecisionClause] | SkipJsonSchema[None] = _optional("When `fired`: the clauses that decided it.")
    missing: list[str] | SkipJsonSchema[None] = _optional("When `undetermined`: the facts that would settle it.")


class DecisionFhirIssue(Contract):
    """Something in a FHIR Bundle that was reported instead of used (see docs/fhir.md)."""

    severity: str
    code: str
    source: str = Field(description="The resource it concerns, e.g. `Observation/123`.")
    message: str
    fact: FactPath | SkipJsonSchema[None] = _optional("The fact it concerns, when one.")


class DecisionFhirReport(Contract):
    """How the facts were mapped from a FHIR Bundle (only on decisions made from one)."""

    patient: str | None = Field(description="The Patient resource, e.g. `Patient/123`.")
    sources: dict[str, str] = Field(description="Fact path -> the resource it came from.")
    issues: list[DecisionFhirIssue]


class DecisionCdsCall(Contract):
    """The CDS Hooks service and hook that asked for the decision (only on CDS Hooks decisions)."""

    service: str
    hook: str


class DecisionManualReview(Contract):
    reason: str | None
    details: list[str]


_SECTIONS = (
    "red_flags",
    "safety_alerts",
    "pmp",
    "pathways",
    "best_practice",
    "notes",
    "missing_information",
    "trace",
    "rules",
)
"""Present in every ``ok`` decision; a ``manual_review`` decision has ``manual_review`` instead."""


class DecisionDocument(Contract):
    """A decision exactly as ``painpath evaluate`` prints it and the API returns it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "if": {"properties": {"status": {"const": "ok"}}},
            "then": {"required": list(_SECTIONS)},
            "else": {"required": ["manual_review"]},
        },
    )

    decision_id: str = Field(description="UUID of this decision.")
    created_at: str = Field(description="ISO 8601 UTC timestamp.")
    status: Literal["ok", "manual_review"] = Field(
        description="`manual_review`: the two evaluators disagreed or the engine failed; no clinical section is given."
    )
    engine: DecisionEngine
    ruleset: DecisionRuleset
    parameters: dict[str, DecisionParameter] = Field(description="Every named parameter in force and its source.")
    patient_id: str | SkipJsonSchema[None] = _optional("Echoed from the facts; never logged.")
    manual_review: DecisionManualReview | SkipJsonSchema[None] = _optional("Only when `status` is `manual_review`.")
    red_flags: DecisionRedFlags | SkipJsonSchema[None] = _optional("Absent only in `manual_review` decisions.")
    safety_alerts: list[DecisionSafetyAlert] | SkipJsonSchema[None] = _optional("Most urgent first.")
    pmp: DecisionPmp | SkipJsonSchema[None] = _optional("The Pain Management Programme decision.")
    pathways: list[DecisionPathway] | SkipJsonSchema[None] = _optional("Treatment options that apply to this patient.")
    best_practice: dict[str, DecisionAdherence] | SkipJsonSchema[None] = Field(
        default=None,
        description='Keyed by recommendation: "1" to "11" (Lin et al. 2019, always present), then NICE audit checks.',
        json_schema_extra=_lin_keys,
    )
    notes: list[DecisionReason] | SkipJsonSchema[None] = _optional("Things considered that are not barriers.")
    missing_information: list[DecisionMissingFact] | SkipJsonSchema[None] = _optional("Most important first.")
    fhir: DecisionFhirReport | SkipJsonSchema[None] = _optional(
        "Only for facts given as a FHIR Bundle: the resource behind each fact and what was reported, not used."
    )
    cds: DecisionCdsCall | SkipJsonSchema[None] = _optional("Only for decisions asked for by a CDS Hooks call.")
    trace: Literal["full", "summary"] | SkipJsonSchema[None] = _optional(
        "How much of the rule trace `rules` carries: `full`, every rule with its clauses; `summary`, only the "
        "rules that fired (id, version, stratum, status and the clauses that decided them) and the undetermined "
        "rules with the facts that would settle each, the rules that did not fire left out."
    )
    rules: list[DecisionRuleTrace | DecisionRuleBrief] | SkipJsonSchema[None] = _optional(
        "The trace, in evaluation order: every rule evaluated (`full`), or those that fired or are undetermined "
        "(`summary`)."
    )

    @model_validator(mode="after")
    def _sections(self) -> DecisionDocument:
        if self.status == "ok":
            absent = [name for name in _SECTIONS if getattr(self, name) is None]
            if absent:
                raise ValueError(f"an ok decision needs {', '.join(absent)}")
            assert self.best_practice is not None
            lacking = [n for n in LIN_RECOMMENDATIONS if n not in self.best_practice]
            if lacking:
                raise ValueError(f"best_practice lacks recommendations {', '.join(lacking)}")
            assert self.rules is not None
            brief = [r.id for r in self.rules if isinstance(r, DecisionRuleBrief)]
            if brief and self.trace == "full":
                raise ValueError(f"a full trace gives every rule its clauses; not given for {', '.join(brief[:5])}")
        elif self.manual_review is None:
            raise ValueError("a manual_review decision needs the manual_review section")
        return self
