"""The rule language: pydantic models of the YAML files in ``rules/`` and ``guidelines/``.

This module only describes shapes; ``loader`` resolves names (facts, parameters, citations, derived
facts) and reports every problem at once. See ``docs/rule-language.md``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from painpath.engine.vocabulary import COMPARISON_OPS

Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Urgency = StrictStr
"""An urgency of the ruleset's vocabulary (``vocabulary.urgencies`` in ``rules/ruleset.yaml``)."""


class Strict(BaseModel):
    """Base for language models: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamRef(Strict):
    """A reference to a named parameter: ``{param: red_flag_age_over}``."""

    param: StrictStr


Operand = Scalar | list[Scalar] | ParamRef


class Comparison(Strict):
    """A leaf: one fact compared with a value. Exactly one operator key must be given.

    ``recorded: true`` is true when the fact was recorded (any value) and false when it was not;
    it is the only operator that is never unknown.
    """

    fact: StrictStr
    eq: Operand | None = None
    ne: Operand | None = None
    lt: Operand | None = None
    lte: Operand | None = None
    gt: Operand | None = None
    gte: Operand | None = None
    in_: Operand | None = Field(default=None, alias="in")
    not_in: Operand | None = None
    contains_any: Operand | None = None
    contains_all: Operand | None = None
    recorded: StrictBool | None = None
    label: StrictStr | None = Field(default=None, description="Optional clinician-readable wording.")
    proviso: StrictBool = Field(
        default=False,
        description=(
            "When this comparison is unknown and the rule would hold if it were true, the rule's conclusion is "
            "given conditionally ('provided that ...') instead of undetermined."
        ),
    )

    def operator(self) -> list[tuple[str, Any]]:
        """Return the ``(op, operand)`` pairs given (a valid leaf has exactly one)."""
        pairs = []
        for op in COMPARISON_OPS:
            attr = "in_" if op == "in" else op
            value = getattr(self, attr)
            if value is not None:
                pairs.append((op, value))
        return pairs


class All(Strict):
    """True when every part is true (Kleene AND)."""

    all: list[Condition] = Field(min_length=1)
    label: StrictStr | None = None


class Any_(Strict):
    """True when any part is true (Kleene OR)."""

    any: list[Condition] = Field(min_length=1)
    label: StrictStr | None = None


class Not(Strict):
    """Kleene NOT: true becomes false, false becomes true, unknown stays unknown."""

    not_: Condition = Field(alias="not")
    label: StrictStr | None = None


class AtLeast(Strict):
    """True when at least ``at_least`` parts are true; false when too few can still be true."""

    at_least: StrictInt = Field(ge=1)
    of: list[Condition] = Field(min_length=1)
    label: StrictStr | None = None


Condition = Annotated[All | Any_ | Not | AtLeast | Comparison, Field(union_mode="left_to_right")]
All.model_rebuild()
Any_.model_rebuild()
Not.model_rebuild()
AtLeast.model_rebuild()


class RedFlagConclusion(Strict):
    """A suspected serious pathology, with how fast to act and what to do."""

    kind: Literal["red_flag"]
    condition: StrictStr
    urgency: Urgency
    action: StrictStr


class SafetyConclusion(Strict):
    """A safety alert that outranks all pathway advice (e.g. suicide risk)."""

    kind: Literal["safety_alert"]
    alert: StrictStr
    urgency: Urgency
    action: StrictStr


class PmpConclusion(Strict):
    """A Pain Management Programme decision or a contribution to it."""

    kind: Literal["pmp"]
    status: StrictStr
    reason: StrictStr
    instead: StrictStr | None = Field(default=None, description="What to do instead, when not recommended.")
    preparation: list[StrictStr] = Field(default_factory=list, description="How to prepare the patient.")


class TriageConclusion(Strict):
    """The setting for a programme."""

    kind: Literal["triage"]
    setting: StrictStr
    reason: StrictStr


class PathwayConclusion(Strict):
    """A treatment pathway option and its status for this patient."""

    kind: Literal["pathway"]
    option: StrictStr
    status: StrictStr
    reason: StrictStr
    evidence: StrictStr | None = None


class AdherenceConclusion(Strict):
    """A best-practice adherence finding for one recommendation (1-11) or an extra check."""

    kind: Literal["adherence"]
    recommendation: StrictInt | StrictStr
    status: StrictStr
    reason: StrictStr
    advice: StrictStr | None = Field(default=None, description="What would close the gap.")


class ReferralConclusion(Strict):
    """An answer to a requested referral: appropriate now, not yet (why), or a better alternative."""

    kind: Literal["referral"]
    referral: StrictStr = Field(description="The requested referral (a value of `care.referrals_requested`).")
    status: StrictStr
    reason: StrictStr
    instead: StrictStr | None = Field(default=None, description="The better alternative, or what to do first.")
    contents: list[StrictStr] = Field(default_factory=list, description="What the referral letter should contain.")


class NoteConclusion(Strict):
    """Information for the clinician (e.g. a factor considered and found not to be a barrier)."""

    kind: Literal["note"]
    topic: StrictStr
    text: StrictStr


Conclusion = Annotated[
    RedFlagConclusion
    | SafetyConclusion
    | PmpConclusion
    | TriageConclusion
    | PathwayConclusion
    | AdherenceConclusion
    | ReferralConclusion
    | NoteConclusion,
    Field(discriminator="kind"),
]

Expectation = Literal["fired", "not_fired", "undetermined"]


class Vector(Strict):
    """A test vector beside its rule: facts in, expected status (and missing facts) out."""

    name: StrictStr
    facts: dict[str, Any] = Field(default_factory=dict)
    derived: dict[str, Scalar | None] = Field(
        default_factory=dict, description="Conclusions of earlier strata to assume (path -> value)."
    )
    parameters: dict[str, Scalar] = Field(default_factory=dict, description="Parameter overrides.")
    expect: Expectation
    missing: list[StrictStr] | None = Field(default=None, description="Exactly the facts that would settle it.")


class Possible(Strict):
    """How an undetermined red flag or safety alert with positive evidence is shown: a *possible* finding."""

    urgency: StrictStr = Field(description="The worst-case urgency of what it could turn out to be.")
    text: StrictStr = Field(description="Plain-language wording, e.g. 'possible cauda equina syndrome: ...'.")
    evidence: list[StrictStr] = Field(
        default_factory=list,
        description="Facts whose definitely-true comparisons count as evidence (default: every fact the rule reads).",
    )
    cites: list[StrictStr] = Field(min_length=1)


class RuleFile(Strict):
    """One rule: identity, citations, condition, conclusion, wording and test vectors."""

    id: Annotated[StrictStr, Field(pattern=r"^[A-Z][A-Z0-9_]{2,63}$")]
    version: Annotated[StrictStr, Field(pattern=r"^\d+\.\d+\.\d+$")]
    title: StrictStr
    status: Literal["active", "draft", "retired"]
    cites: list[StrictStr] = Field(min_length=1)
    rationale: StrictStr
    groups: list[Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(default_factory=list)
    when: Condition
    concludes: Conclusion
    explanation: StrictStr
    possible: Possible | None = None
    vectors: list[Vector] = Field(min_length=3)


class Parameter(Strict):
    """A named threshold that sources disagree on, with its default's source and the alternatives."""

    value: StrictInt | StrictFloat | StrictBool | StrictStr
    unit: StrictStr | None = None
    minimum: StrictInt | StrictFloat | None = None
    maximum: StrictInt | StrictFloat | None = None
    description: StrictStr
    cites: list[StrictStr] = Field(min_length=1)
    alternatives: list[dict[str, Any]] = Field(default_factory=list)


class ParametersFile(Strict):
    """``rules/parameters.yaml``."""

    parameters: dict[str, Parameter]


class Screen(Strict):
    """A screen over a stratum: ``absent`` only when every required item was explicitly answered."""

    requires: list[StrictStr] = Field(min_length=1)


class Stratum(Strict):
    """One evaluation stratum: its folders, and optionally a screen."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: StrictStr
    folders: list[StrictStr] = Field(min_length=1)
    screen: Screen | None = None


class UrgencyFile(Strict):
    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: StrictStr


class KindFile(Strict):
    rank: StrictInt = Field(ge=0, description="Order of the missing information this kind's rules need (0 first).")
    urgent: StrictBool = Field(default=False, description="Conclusions with an urgency, shown in ACT FIRST.")


class StatusFile(Strict):
    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    polarity: Literal["positive", "negative"]
    label: StrictStr


class SectionFile(Strict):
    kind: StrictStr
    field: Literal["status", "setting"]
    key: StrictStr | None = None
    title: StrictStr
    cites: list[StrictStr] = Field(min_length=1)
    statuses: list[StatusFile] = Field(min_length=1, description="Strongest first.")
    bounded: StrictBool = True
    display_order: list[StrictStr] = Field(default_factory=list)
    redirects: list[StrictStr] = Field(default_factory=list)
    items: list[StrictStr] = Field(default_factory=list)
    requested_by: StrictStr | None = Field(default=None, description="A set fact naming the entries asked for.")
    derived: Literal["one", "per_key", "none"] = Field(
        default="none",
        description="How later strata read the section: one `derived.<section>.<field>`, one per key, or not at all.",
    )


class VocabularyFile(Strict):
    """``vocabulary:`` in ``rules/ruleset.yaml``: urgencies, conclusion kinds and sections."""

    urgencies: list[UrgencyFile] = Field(min_length=1)
    kinds: dict[str, KindFile]
    sections: dict[str, SectionFile]


class RulesetFile(Strict):
    """``rules/ruleset.yaml``: the ruleset's identity and its strata in evaluation order."""

    ruleset: StrictStr
    version: Annotated[StrictStr, Field(pattern=r"^\d+\.\d+\.\d+$")]
    strata: list[Stratum] = Field(min_length=1)
    vocabulary: VocabularyFile


class Guideline(Strict):
    """A source document, summarised in painpath's own words."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: StrictStr
    publisher: StrictStr
    year: StrictInt
    url: StrictStr | None = None
    identifier: StrictStr | None = Field(default=None, description="DOI, PMID or guideline number.")
    verification: Literal["verified", "partly_verified", "unverified", "seed"]
    summary: StrictStr
    sections: dict[str, StrictStr] = Field(default_factory=dict, description="Section id -> what it says.")


class SiteConfig(Strict):
    """A site configuration file: parameter overrides for local policy."""

    site: StrictStr
    parameters: dict[str, StrictInt | StrictFloat | StrictBool | StrictStr] = Field(default_factory=dict)
