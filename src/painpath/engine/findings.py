"""Reading a rendered decision for presentation: what was found, on which facts, from which sources.

Cards (CDS Hooks) and GuidanceResponse actions are two views of the same decision document
(``render.decision_to_dict``); this module extracts what both show, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

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


def rule_entry(decision: Mapping[str, Any], rule_id: str) -> Mapping[str, Any]:
    """The ``rules[]`` entry of one rule (empty when absent)."""
    for entry in decision.get("rules", ()):
        if entry["id"] == rule_id:
            return entry  # type: ignore[no-any-return]
    return {}


def findings(decision: Mapping[str, Any]) -> list[Finding]:
    """Red flags and safety alerts, unmet recommendations, the PMP decision, then notes."""
    out: list[Finding] = []
    if decision.get("status") != "ok":
        return out
    for alert in decision.get("safety_alerts", ()):
        rule = alert["rule"]
        out.append(
            Finding(
                "safety_alert",
                rule["id"],
                rule["version"],
                tuple(rule["cites"]),
                alert["text"],
                urgency=alert["urgency"],
            )
        )
    for f in (decision.get("red_flags") or {}).get("findings", ()):
        rule = f["rule"]
        out.append(
            Finding(
                "red_flag",
                rule["id"],
                rule["version"],
                tuple(rule["cites"]),
                f["action"],
                urgency=f["urgency"],
                condition=f["condition"],
                explanation=f.get("explanation"),
            )
        )
    for rec, entry in (decision.get("best_practice") or {}).items():
        if entry["status"] != "not_met":
            continue
        for reason in entry["reasons"]:
            rule = reason["rule"]
            out.append(
                Finding(
                    "adherence",
                    rule["id"],
                    rule["version"],
                    tuple(rule["cites"]),
                    reason["text"],
                    recommendation=str(rec),
                    status="not_met",
                    advice=tuple(entry.get("advice", ())),
                )
            )
    pmp = decision.get("pmp")
    if pmp and pmp["status"] in ("recommended", "not_yet", "not_suitable"):
        for reason in pmp["reasons"]:
            rule = reason["rule"]
            out.append(
                Finding(
                    "pmp",
                    rule["id"],
                    rule["version"],
                    tuple(rule["cites"]),
                    reason["text"],
                    status=pmp["status"],
                    advice=tuple(a for a in (reason.get("instead"), *pmp.get("preparation", ())) if a),
                )
            )
    for note in decision.get("notes", ()):
        rule = note["rule"]
        out.append(Finding("note", rule["id"], rule["version"], tuple(rule["cites"]), note["text"]))
    return out


def facts_used(decision: Mapping[str, Any], rule_id: str) -> list[tuple[str, Any, str, str | None]]:
    """``(fact, value, result, label)`` for the conditions that decided a rule."""
    return [
        (c["fact"], c.get("actual"), c["result"], c.get("label"))
        for c in rule_entry(decision, rule_id).get("because", ())
    ]


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
