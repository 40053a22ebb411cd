"""Checking a triage outcome against the vocabulary, and against painpath's advice for the decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from painpath.triage.codes import OUTCOME_FIELDS, PMP_SETTING, AdviceRule, Agreement, OutcomeField, TriageCodes


@dataclass(frozen=True)
class OutcomeChoice:
    """What the triager chose (codes from ``codes.yaml``) and, when departing from the advice, why."""

    outcome: str
    service: str | None = None
    setting: str | None = None
    redirected_to: str | None = None
    returned_reason: str | None = None
    reason: str | None = None

    def value(self, field: OutcomeField) -> str | None:
        value: str | None = getattr(self, field)
        return value


@dataclass(frozen=True)
class OutcomeProblem:
    """One thing wrong with a triage outcome: the field and the reason."""

    field: str
    reason: str


@dataclass(frozen=True)
class CheckedOutcome:
    advice: AdviceRule
    departs_from_advice: bool
    problems: tuple[OutcomeProblem, ...]


def _agrees(agreement: Agreement, choice: OutcomeChoice, summary: Mapping[str, str | None]) -> bool:
    if agreement.outcome != choice.outcome:
        return False
    for field, allowed in agreement.allowed.items():
        value = choice.value(field)  # type: ignore[arg-type]
        if allowed == PMP_SETTING:
            if value != summary.get("pmp_setting"):
                return False
        elif value not in allowed:
            return False
    return True


def check_outcome(codes: TriageCodes, choice: OutcomeChoice, summary: Mapping[str, str | None]) -> CheckedOutcome:
    """Validate ``choice`` and compare it with the advice for ``summary`` (see ``triage.summary``).

    Problems: an unknown outcome or code, a required field left empty, a field the outcome does not
    use, or a departure from the advice without a reason.
    """
    problems: list[OutcomeProblem] = []
    advice = codes.advice_for(summary)
    if choice.outcome not in codes.outcomes:
        problems.append(OutcomeProblem("outcome", f"unknown outcome; one of: {', '.join(codes.outcomes)}"))
        return CheckedOutcome(advice, False, tuple(problems))
    required = codes.requires[choice.outcome]
    for field in OUTCOME_FIELDS:
        value = choice.value(field)
        if field in required:
            if not value:
                problems.append(OutcomeProblem(field, f"required when the outcome is '{choice.outcome}'"))
            elif value not in codes.lists[field]:
                problems.append(OutcomeProblem(field, f"unknown code; one of: {', '.join(codes.lists[field])}"))
        elif value:
            problems.append(OutcomeProblem(field, f"not used when the outcome is '{choice.outcome}'"))
    departs = advice.agrees is not None and not any(_agrees(a, choice, summary) for a in advice.agrees)
    if departs and not (choice.reason or "").strip():
        problems.append(
            OutcomeProblem("reason", f"this outcome departs from painpath's advice ({advice.id}): give a reason")
        )
    return CheckedOutcome(advice, departs, tuple(problems))
