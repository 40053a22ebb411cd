"""Output models: the documented shapes of what the API returns (input is ``PatientFacts``).

The decision model is the engine's contract (``painpath.engine.contract``, strict: the JSON of
``render.decision_to_dict`` shared with the CLI). The API never re-serialises a decision through it;
it exists for the OpenAPI document and its clients. The other models admit extra members so a newer
server adding a field stays within the documented schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from painpath.engine.contract import DecisionDocument


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- decisions -------------------------------------------------------------------------------------


class RulesetRef(Out):
    name: str
    version: str
    content_hash: str = Field(description="sha256 over the ruleset's source files.")


DecisionOut = DecisionDocument
"""A decision exactly as the engine issued it: the contract of docs/decision-format.md."""


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
