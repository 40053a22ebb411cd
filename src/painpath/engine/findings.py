"""Reading a decision document for presentation: what was found, on which facts, from which sources.

Cards (CDS Hooks) and GuidanceResponse actions are two views of the same decision document, the
typed ``DecisionDocument`` of ``engine.contract`` (parse the rendered body once with
``DecisionDocument.model_validate_json``); this module extracts what both show, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from painpath.engine.contract import DecisionDocument, DecisionRuleBrief, DecisionRuleTrace
from painpath.engine.language import Guideline

FindingKind = Literal["red_flag", "safety_alert", "adherence", "pmp", "note"]


@dataclass(frozen=True)
class Finding:
    """One thing the decision asserts, with the rule behind it."""

    kind: FindingKind
    rule_id: str
    rule_version: str
    cites: tuple[str, ...]
    text: str
    """The rule's action, reason or alert text."""
    urgency: str | None = None
    condition: str | None = None
    recommendation: str | None = None
    status: str | None = None
    explanation: str | None = None
    advice: tuple[str, ...] = ()


def rule_entry(decision: DecisionDocument, rule_id: str) -> DecisionRuleTrace | DecisionRuleBrief | None:
    """The ``rules[]`` entry of one rule (``None`` when absent)."""
    return next((entry for entry in decision.rules or () if entry.id == rule_id), None)


def findings(decision: DecisionDocument) -> list[Finding]:
    """Red flags and safety alerts, unmet recommendations, the PMP decision, then notes."""
    out: list[Finding] = []
    if decision.status != "ok":
        return out
    for alert in decision.safety_alerts or ():
        rule = alert.rule
        out.append(Finding("safety_alert", rule.id, rule.version, tuple(rule.cites), alert.text, urgency=alert.urgency))
    for f in decision.red_flags.findings if decision.red_flags else ():
        rule = f.rule
        out.append(
            Finding(
                "red_flag",
                rule.id,
                rule.version,
                tuple(rule.cites),
                f.action,
                urgency=f.urgency,
                condition=f.condition,
                explanation=f.explanation,
            )
        )
    for rec, entry in (decision.best_practice or {}).items():
        if entry.status != "not_met":
            continue
        for reason in entry.reasons:
            rule = reason.rule
            out.append(
                Finding(
                    "adherence",
                    rule.id,
                    rule.version,
                    tuple(rule.cites),
                    reason.text,
                    recommendation=str(rec),
                    status="not_met",
                    advice=tuple(entry.advice),
                )
            )
    pmp = decision.pmp
    if pmp and pmp.status in ("recommended", "not_yet", "not_suitable"):
        for reason in pmp.reasons:
            rule = reason.rule
            out.append(
                Finding(
                    "pmp",
                    rule.id,
                    rule.version,
                    tuple(rule.cites),
                    reason.text,
                    status=pmp.status,
                    advice=tuple(a for a in (reason.instead, *pmp.preparation) if a),
                )
            )
    for note in decision.notes or ():
        rule = note.rule
        out.append(Finding("note", rule.id, rule.version, tuple(rule.cites), note.text))
    return out


def facts_used(decision: DecisionDocument, rule_id: str) -> list[tuple[str, Any, str, str | None]]:
    """``(fact, value, result, label)`` for the conditions that decided a rule."""
    entry = rule_entry(decision, rule_id)
    # a full trace entry, or a fired rule's brief in a summary trace: both carry the deciding clauses
    because = getattr(entry, "because", None) or ()
    return [(c.fact, c.actual, c.result, c.label) for c in because]


def missing_for(decision: DecisionDocument, rule_id: str) -> list[str]:
    """The facts that would settle an undetermined rule (empty otherwise)."""
    entry = rule_entry(decision, rule_id)
    return list(entry.missing or ()) if entry is not None else []


def guideline_for(cite: str, guidelines: Mapping[str, Guideline]) -> Guideline | None:
    return guidelines.get(cite.split("#", 1)[0])


def citation_lines(cites: tuple[str, ...], guidelines: Mapping[str, Guideline]) -> list[str]:
    """Markdown list items naming each cited guideline (and section), linked when it has a URL."""
    lines = []
    for cite in cites:
        g = guideline_for(cite, guidelines)
        if g is None:
            lines.append(f"- {cite}")
            continue
        section = cite.split("#", 1)[1] if "#" in cite else None
        name = f"{g.title} ({g.publisher}, {g.year})" + (f", section {section}" if section else "")
        lines.append(f"- [{name}]({g.url})" if g.url else f"- {name}")
    return lines
