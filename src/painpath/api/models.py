"""Output models: the documented shapes of what the API returns (input is ``PatientFacts``).

The decision models describe ``painpath.engine.render.decision_to_dict`` (the JSON contract shared
with the CLI). The API never re-serialises a decision through them; they exist for the OpenAPI
document and its clients. Every model admits extra members so a newer engine adding a field stays
within the documented schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- decisions -------------------------------------------------------------------------------------


class DecisionEngine(Out):
    name: str
    version: str
    evaluator: str = Field(description="`durable` (durable-rules cross-checked by the Kleene evaluator) or `kleene`.")


class RulesetRef(Out):
    name: str
    version: str
    content_hash: str = Field(description="sha256 over the ruleset's source files.")


class DecisionParameter(Out):
    value: Any
    source: str = Field(description="`default`, `site` or `request`.")
    cites: list[str]


class RuleRef(Out):
    id: str
    version: str
    cites: list[str]


class DecisionClause(Out):
    """One condition of a rule with the fact's value and the condition's truth value."""

    fact: str
    op: str
    expected: Any = None
    actual: Any = None
    result: str = Field(description="`true`, `false` or `unknown`.")
    parameter: str | None = None
    negated: bool | None = None
    label: str | None = None


class DecisionRedFlagFinding(Out):
    condition: str
    urgency: str
    action: str
    rule: RuleRef
    explanation: str
    facts_used: list[DecisionClause]


class DecisionRedFlags(Out):
    status: str = Field(description="`present`, `absent` or `incomplete`.")
    findings: list[DecisionRedFlagFinding]
    missing: list[str]


class DecisionReason(Out):
    rule: RuleRef
    text: str
    instead: str | None = None


class DecisionSafetyAlert(DecisionReason):
    alert: str
    urgency: str


class DecisionPmp(Out):
    status: str
    setting: str | None
    reasons: list[DecisionReason]
    setting_reasons: list[DecisionReason]
    preparation: list[str]
    waiting_on_rules: list[str] | None = None


class DecisionPathway(Out):
    option: str
    status: str
    reasons: list[DecisionReason]
    evidence: str | None = None
    waiting_on_rules: list[str] | None = None


class DecisionAdherence(Out):
    status: str
    reasons: list[DecisionReason]
    advice: list[str]
    waiting_on_rules: list[str] | None = None


class DecisionMissingFact(Out):
    fact: str
    description: str
    needed_by: list[str]


class DecisionRuleOutcome(Out):
    """One rule's outcome. With ``trace: summary`` a rule that did not fire has only id, version,
    stratum and status."""

    id: str
    version: str
    stratum: str
    status: str = Field(description="`fired`, `not_fired` or `undetermined`.")
    title: str | None = None
    cites: list[str] | None = None
    facts_used: dict[str, Any] | None = None
    because: list[DecisionClause] | None = None
    explanation: str | None = None
    missing: list[str] | None = None


class DecisionManualReview(Out):
    reason: str | None
    details: list[str]


class DecisionOut(Out):
    """A decision exactly as the engine issued it (see docs/decision-format.md)."""

    decision_id: str
    created_at: str
    status: Literal["ok", "manual_review"] = Field(
        description="`manual_review`: the two evaluators disagreed or the engine failed; no advice is given."
    )
    engine: DecisionEngine
    ruleset: RulesetRef
    parameters: dict[str, DecisionParameter]
    patient_id: str | None = Field(default=None, description="Echoed from the facts; never logged.")
    manual_review: DecisionManualReview | None = None
    red_flags: DecisionRedFlags | None = None
    safety_alerts: list[DecisionSafetyAlert] | None = None
    pmp: DecisionPmp | None = None
    pathways: list[DecisionPathway] | None = None
    best_practice: dict[str, DecisionAdherence] | None = None
    notes: list[DecisionReason] | None = None
    missing_information: list[DecisionMissingFact] | None = None
    trace: Literal["full", "summary"] | None = Field(
        default=None, description="How much of the rule trace `rules` carries (see the `trace` query parameter)."
    )
    rules: list[DecisionRuleOutcome] | None = None


# -- rules and guidelines --------------------------------------------------------------------------


class VectorCounts(Out):
    fired: int
    not_fired: int
    undetermined: int


class RuleSummary(Out):
    id: str
    version: str
    title: str
    status: str
    stratum: str
    conclusion: str = Field(description="The kind of conclusion: red_flag, safety_alert, pmp, triage, ...")
    cites: list[str]
    vectors: VectorCounts
    file: str


class RuleIndex(Out):
    ruleset: RulesetRef
    rules: list[RuleSummary]


class Citation(Out):
    ref: str = Field(description="As written in the rule: `guideline-id` or `guideline-id#section`.")
    guideline: str
    section: str | None = None
    title: str | None = None
    text: str | None = Field(default=None, description="What the cited section says, in painpath's words.")
    url: str | None = None


class RuleVector(Out):
    name: str
    facts: dict[str, Any]
    derived: dict[str, Any]
    parameters: dict[str, Any]
    expect: str
    missing: list[str] | None = None


class RuleDetail(Out):
    id: str
    version: str
    title: str
    status: str
    stratum: str
    groups: list[str]
    rationale: str
    cites: list[str]
    citations: list[Citation]
    condition: dict[str, Any] = Field(
        description=(
            "The rule's condition as a tree in the rule language: `{all: [...]}`, `{any: [...]}`, `{not: ...}`, "
            "`{at_least: n, of: [...]}` or a comparison `{fact, op, value}`; a comparison on a named parameter has "
            "`parameter` and the value in force."
        )
    )
    concludes: dict[str, Any]
    explanation: str
    vectors: list[RuleVector]
    file: str
    ruleset: RulesetRef


class GuidelineSummary(Out):
    id: str
    title: str
    publisher: str
    year: int
    url: str | None = None
    identifier: str | None = None
    verification: str


class GuidelineIndex(Out):
    ruleset: RulesetRef
    guidelines: list[GuidelineSummary]


class GuidelineDetail(GuidelineSummary):
    summary: str
    sections: dict[str, str]
    cited_by: list[str] = Field(description="Ids of the rules (and parameters) that cite this guideline.")
    ruleset: RulesetRef


# -- operations ------------------------------------------------------------------------------------


class HealthReport(Out):
    status: Literal["ok"]


class ReadinessReport(Out):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="Each check and its result: `ok` or why it failed.")


class VersionInfo(Out):
    painpath: str = Field(description="The package version.")
    api: str = Field(description="The API major version in the path.")
    ruleset: RulesetRef
