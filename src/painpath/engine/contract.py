"""The decision JSON contract: pydantic models of exactly what ``render.decision_to_dict`` produces.

``schemas/decision.schema.json`` is generated from :class:`DecisionDocument` (``python -m
painpath.schemas --write``); docs/decision-format.md explains every section. The models are strict
(``extra="forbid"``): a key the renderer adds without documenting it here fails the contract tests
instead of slipping into clients unnoticed. A key that the renderer omits when it has no value (for
example ``instead`` or ``waiting_on_rules``) is optional here and never ``null``.

The status vocabularies are read from the bundled ruleset's vocabulary (``rules/ruleset.yaml``), plus
the values only the engine produces (``undetermined``, ``unknown``): they are defined once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.json_schema import SkipJsonSchema

from painpath.engine.decision import Certainty, RuleStatus, ScreenStatus
from painpath.engine.vocabulary import COMPARISON_OPS
from painpath.paths import default_rules_dir


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, Any]:
    """The bundled ruleset's vocabulary (the JSON Schema describes decisions of the bundled rules)."""
    data: dict[str, Any] = yaml.safe_load((default_rules_dir() / "ruleset.yaml").read_text(encoding="utf-8"))
    return dict(data["vocabulary"])


def _one_of(values: tuple[str, ...], what: str) -> Any:
    """A string that must be one of ``values`` (validated, and an ``enum`` in the JSON Schema)."""

    def check(value: str) -> str:
        if value not in values:
            raise ValueError(f"{value!r} is not a {what} ({', '.join(values)})")
        return value

    return Annotated[str, AfterValidator(check), WithJsonSchema({"type": "string", "enum": list(values)})]


def _statuses(section: str, *extra: str) -> Any:
    found = tuple(str(s["id"]) for s in _vocabulary()["sections"][section]["statuses"])
    return _one_of((*found, *extra), f"{section} status")


if TYPE_CHECKING:  # the checker sees strings; at run time each is validated against the vocabulary
    Urgency = str
    PmpStatus = str
    Setting = str
    PathwayStatus = str
    ReferralStatus = str
    AdherenceStatus = str
    AnyStatus = str
    Operator = str
else:
    Urgency = _one_of(tuple(str(u["id"]) for u in _vocabulary()["urgencies"]), "urgency")

    PmpStatus = _statuses("pmp", "undetermined")
    Setting = _statuses("triage", "undetermined")
    PathwayStatus = _statuses("pathway", "undetermined")
    ReferralStatus = _statuses("referral", "undetermined")
    AdherenceStatus = _statuses("adherence", "unknown")
    AnyStatus = _one_of(
        tuple(dict.fromkeys(str(st["id"]) for sec in _vocabulary()["sections"].values() for st in sec["statuses"])),
        "section status",
    )
    Operator = _one_of(COMPARISON_OPS, "comparison operator")
Truth = Literal["true", "false", "unknown"]
LIN_RECOMMENDATIONS = tuple(str(n) for n in _vocabulary()["sections"]["adherence"]["items"])
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
    cites: list[str] | None = _optional(
        "Guideline ids supporting the parameter; in the full trace only (constant per ruleset: `GET /v1/rules`)."
    )


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


class DecisionQuestion(Contract):
    fact: FactPath
    question: str = Field(description="The question that records the fact, in plain language.")


class DecisionPossibleFinding(Contract):
    """An undetermined red flag or safety alert with positive evidence (docs/decision-format.md)."""

    condition: str
    urgency: Urgency = Field(description="The worst-case urgency of what it could turn out to be.")
    text: str
    rule: DecisionRuleRef
    evidence: dict[str, Any] = Field(description="The definitely-true facts that support it.")
    settle: list[DecisionQuestion] = Field(description="The questions that would settle it, in order.")
    also_rules: list[RuleId] = Field(description="Less urgent rules of the same condition folded into this one.")


class DecisionRedFlags(Contract):
    status: ScreenStatus = Field(
        description="`present`: a red flag fired; `possible`: a red flag is undetermined with positive evidence; "
        "`absent` only when every required screening item was answered and no red-flag rule fired "
        "or is undetermined; an unanswered question never yields `absent`; otherwise `incomplete`."
    )
    findings: list[DecisionRedFlagFinding] = Field(description="Most urgent first.")
    possible: list[DecisionPossibleFinding] = Field(description="Most urgent first; shown in ACT FIRST.")
    missing: list[str] = Field(description="What the screen still needs answered.")


class DecisionSafetyAlert(DecisionReason):
    alert: str
    urgency: Urgency


class DecisionProviso(Contract):
    """One item of a conditional answer's checklist, or a stronger status still to rule out."""

    text: str
    facts: list[FactPath]
    questions: list[str] = Field(description="The questions that record `facts`, in the same order.")
    rule: DecisionRuleRef | SkipJsonSchema[None] = _optional("The undetermined rule behind the item.")


class DecisionResolved(Contract):
    """A status resolved by precedence from the rules that concluded on it (the shared part), with its
    bounds when it is not definite (docs/decision-format.md, "Bounded answers")."""

    reasons: list[DecisionReason] = Field(
        description="Every fired rule that concluded the status (for `conditional`: the rules that would)."
    )
    waiting_on_rules: list[RuleId] | SkipJsonSchema[None] = _optional(
        "When the status is `undetermined` (or `unknown`): the undetermined rules that could change it."
    )
    certainty: Certainty | SkipJsonSchema[None] = _optional(
        "Left out when definite. `bounded`: the status is certain ('not now') though stronger ones are unknown; "
        "`conditional`: `status` is `undetermined` and `conditional` holds provided that `provided_that` holds; "
        "`undetermined`: no bounded answer."
    )
    bounds: list[AnyStatus] | SkipJsonSchema[None] = _optional(
        "When not definite: the statuses still possible, strongest first."
    )
    conditional: AnyStatus | SkipJsonSchema[None] = _optional(
        "When `certainty` is `conditional`: the status that holds provided that every item of `provided_that` holds."
    )
    provided_that: list[DecisionProviso] | SkipJsonSchema[None] = _optional("The checklist of a conditional answer.")
    also_check: list[DecisionProviso] | SkipJsonSchema[None] = _optional(
        "When `bounded`: the stronger statuses still to rule out."
    )


class DecisionPmp(DecisionResolved):
    status: PmpStatus
    setting: Setting | None = Field(description="Resolved only when the PMP is `recommended`; otherwise null.")
    setting_reasons: list[DecisionReason]
    preparation: list[str] = Field(description="For `recommended`: how the GP should present the PMP.")
    setting_bounds: dict[str, Any] | SkipJsonSchema[None] = _optional(
        "When the setting is not definite: its certainty, bounds and provisos (as for the status)."
    )


class DecisionScore(Contract):
    """An interpreted score: the band its published cut-offs put it in (rules/scores.yaml)."""

    title: str
    label: str
    text: str
    values: dict[str, Any] = Field(description="The scores the band was read from.")
    source: Literal["score", "entered"] = Field(description="`entered`: the group was recorded directly.")
    cites: list[str]


class DecisionReferral(DecisionResolved):
    referral: str = Field(description="The requested referral (a value of `care.referrals_requested`).")
    status: ReferralStatus
    contents: list[str] = Field(description="What the referral letter should contain.")


class DecisionPathway(DecisionResolved):
    option: str
    status: PathwayStatus
    evidence: str | None = _optional(
        "The strength of the evidence behind the option, in words; in the full trace only (constant per ruleset)."
    )


class DecisionAdherence(DecisionResolved):
    status: AdherenceStatus
    advice: list[str] = Field(description="For `not_met`: what would close the gap.")


class DecisionMissingFact(Contract):
    fact: FactPath
    description: str | None = _optional("The fact's catalogue description; in the full trace only.")
    question: str = Field(description="The question that records the fact, in plain language.")
    tier: Literal["urgency", "section", "other"] = Field(
        description="`urgency`: could raise an urgency (asked first); `section`: settles a section's answer."
    )
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
    """A rule in a ``summary`` trace: a rule that fired, with the clauses that decided it (``trace=full``
    gives every rule). Decisions issued before 2026-12-02 also list undetermined rules here, with
    ``missing``; the facts worth asking for are in ``missing_information``, with the rules that need
    them (``needed_by``)."""

    id: RuleId
    version: str
    stratum: str
    status: RuleStatus
    because: list[DecisionClause] | SkipJsonSchema[None] = _optional("When `fired`: the clauses that decided it.")
    missing: list[str] | SkipJsonSchema[None] = _optional(
        "When `undetermined`, in decisions issued before 2026-12-02: the facts that would settle it."
    )


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
    "referrals",
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
    provenance: dict[str, str] | SkipJsonSchema[None] = _optional(
        "Fact path -> where it came from (a FHIR resource, or `group:<id>` for a group answer), when known."
    )
    manual_review: DecisionManualReview | SkipJsonSchema[None] = _optional("Only when `status` is `manual_review`.")
    red_flags: DecisionRedFlags | SkipJsonSchema[None] = _optional("Absent only in `manual_review` decisions.")
    safety_alerts: list[DecisionSafetyAlert] | SkipJsonSchema[None] = _optional("Most urgent first.")
    pmp: DecisionPmp | SkipJsonSchema[None] = _optional("The Pain Management Programme decision.")
    scores: dict[str, DecisionScore] | SkipJsonSchema[None] = _optional(
        "Interpreted scores with their published bands, keyed by score id."
    )
    referrals: list[DecisionReferral] | SkipJsonSchema[None] = _optional(
        "The answer to each requested referral (`care.referrals_requested`) that a rule answers."
    )
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
        "rules that fired (id, version, stratum, status and the clauses that decided them). The facts worth "
        "asking for are in `missing_information` either way, with the rules that need them (`needed_by`)."
    )
    rules: list[DecisionRuleTrace | DecisionRuleBrief] | SkipJsonSchema[None] = _optional(
        "The trace, in evaluation order: every rule evaluated (`full`), or those that fired (`summary`)."
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
