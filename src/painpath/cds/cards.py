"""Build CDS Hooks cards from a decision (``DecisionDocument``): a view, with no clinical logic of its own.

What a card says comes from the rules that fired (action, reason, advice, explanation, citations);
how it is shown (indicator, summary template, suggestions, override reasons) comes from
``cards.yaml``. Every card names its rule and version, the ruleset, the facts used and where they
came from, and what is still unknown.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from painpath.cds.models import SUMMARY_MAX
from painpath.cds.wording import Indicator, Wording
from painpath.engine import Finding, Guideline, citation_lines, facts_used, findings_of, guideline_for, missing_for
from painpath.engine.contract import DecisionDocument
from painpath.fhir import FhirFacts, Referral, default_code_index

_MISSING_LISTED = 8


@dataclass(frozen=True)
class IssuedCard:
    """A card and what the decision log keeps about it (for feedback)."""

    card: dict[str, Any]
    rule_id: str | None
    rule_version: str | None


@dataclass(frozen=True)
class CardContext:
    """What a hook call adds to the decision: the FHIR mapping and the draft orders."""

    hook: str
    patient_ref: str | None
    mapped: FhirFacts
    draft_orders: tuple[Referral, ...]


def _short(text: str, limit: int = SUMMARY_MAX) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "not recorded" if value is None else str(value)


def _fact_line(fact: str, value: Any, label: str | None, sources: Mapping[str, str]) -> str:
    where = sources.get(fact)
    name = f"{label} (`{fact}`)" if label else f"`{fact}`"
    return f"- {name} = {_value(value)}" + (f" — from `{where}`" if where else "")


class CardBuilder:
    """Turns one decision into cards for one hook call."""

    def __init__(self, wording: Wording, guidelines: Mapping[str, Guideline]) -> None:
        self.wording = wording
        self.guidelines = guidelines

    def _source(self, cites: Sequence[str]) -> dict[str, Any]:
        for cite in cites:
            g = guideline_for(cite, self.guidelines)
            if g is not None and g.url:
                return {"label": _short(g.title, 100), "url": g.url}
        return {"label": self.wording.source.label, "url": self.wording.source.url}

    def _override_reasons(self) -> list[dict[str, str]]:
        reasons = self.wording.override_reasons
        return [{"system": reasons.system, "code": r.code, "display": r.display} for r in reasons.codes]

    def _footer(self, decision: DecisionDocument, rule: tuple[str, str] | None) -> list[str]:
        rs = decision.ruleset
        head = self.wording.detail_headings.provenance
        line = f"{head}: ruleset {rs.name} {rs.version} ({rs.content_hash[:12]})"
        if rule:
            line += f", rule {rule[0]} v{rule[1]}"
        return ["", f"_{line}, decision {decision.decision_id}_"]

    def _detail(self, decision: DecisionDocument, f: Finding, ctx: CardContext) -> str:
        h = self.wording.detail_headings
        sources = ctx.mapped.sources
        used = facts_used(decision, f.rule_id)
        why = [line for line in (f.explanation, f.text) if line]
        out = [f"**{h.why}**", "", *(_short(w, 2000) for w in why), ""]
        supporting = [u for u in used if u[2] == "true"]
        against = [u for u in used if u[2] == "false"]
        if supporting:
            out += [f"**{h.facts}**", "", *(_fact_line(p, v, lab, sources) for p, v, _r, lab in supporting), ""]
        if against:
            out += [f"**{h.why_not}**", "", *(_fact_line(p, v, lab, sources) for p, v, _r, lab in against), ""]
        unknown = missing_for(decision, f.rule_id)
        if unknown:
            out += [f"**{h.unknown}**", "", *(f"- `{p}`" for p in unknown), ""]
        if f.advice:
            out += [f"**{h.advice}**", "", *(f"- {a}" for a in f.advice), ""]
        out += [f"**{h.sources}**", "", *citation_lines(f.cites, self.guidelines)]
        out += self._footer(decision, (f.rule_id, f.rule_version))
        return "\n".join(out)

    def _summary(self, f: Finding) -> str:
        s = self.wording.summaries
        if f.kind == "red_flag":
            urgency = f.urgency or "routine"
            text = s.red_flag.format(
                urgency_label=self.wording.urgency_labels.get(urgency, urgency),
                condition=(f.condition or "").replace("_", " "),
                action_short=self.wording.action_short.get(urgency, ""),
            )
        elif f.kind == "safety_alert":
            urgency = f.urgency or "routine"
            text = s.safety_alert.format(urgency_label=self.wording.urgency_labels.get(urgency, urgency), text=f.text)
        elif f.kind == "note":
            text = s.note.format(text=f.text)
        elif f.kind == "pmp":
            text = s.pmp.format(status=self.wording.pmp_status_labels.get(f.status or "", f.status))
        else:
            text = s.adherence.format(text=f.text)
        return _short(text)

    def _on_order(self, decision: DecisionDocument, f: Finding, ctx: CardContext) -> bool:
        order_sources = {o.source for o in ctx.draft_orders}
        return any(
            src in order_sources
            for p, _v, _r, _l in facts_used(decision, f.rule_id)
            for src in ctx.mapped.sources.get(p, "").split(", ")
        )

    def _indicator(self, decision: DecisionDocument, f: Finding, ctx: CardContext) -> Indicator | None:
        """The card's indicator, or ``None`` when the finding is not shown for this hook."""
        if f.kind in ("red_flag", "safety_alert"):
            return self.wording.indicator_by_urgency.get(f.urgency or "routine", "info")
        if f.kind in ("adherence", "note"):
            if self._on_order(decision, f, ctx):
                return self.wording.against_order_indicator
            return "info" if ctx.hook == "patient-view" else None
        return "info" if ctx.hook == "patient-view" or any(o.kind == "pmp" for o in ctx.draft_orders) else None

    def _replacement(self, f: Finding, ctx: CardContext) -> list[dict[str, Any]]:
        rule = self.wording.suggestions.replace_imaging
        if f.recommendation not in rule.when_recommendations:
            return []
        orders = [o for o in ctx.draft_orders if o.kind == rule.when_order_kind]
        if not orders:
            return []
        tables = default_code_index().tables
        referral = next(r for r in tables.referral_codes if r.code == rule.replacement_referral)
        actions: list[dict[str, Any]] = [
            {"type": "delete", "description": rule.delete_description, "resourceId": o.source} for o in orders
        ]
        new: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "order",
            "code": {
                "coding": [{"system": tables.referral_system, "code": referral.code, "display": referral.display}]
            },
        }
        if ctx.patient_ref:
            new["subject"] = {"reference": ctx.patient_ref}
        actions.append({"type": "create", "description": rule.create_description, "resource": new})
        return [{"label": rule.label, "uuid": str(uuid.uuid4()), "isRecommended": False, "actions": actions}]

    def _card(
        self,
        summary: str,
        detail: str,
        indicator: Indicator,
        cites: Sequence[str],
        suggestions: list[dict[str, Any]],
        selection: str = "at-most-one",
    ) -> dict[str, Any]:
        card: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "summary": summary,
            "detail": detail,
            "indicator": indicator,
            "source": self._source(cites),
            "overrideReasons": self._override_reasons(),
        }
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = selection
        return card

    def _missing_card(self, decision: DecisionDocument, ctx: CardContext) -> IssuedCard | None:
        h = self.wording.detail_headings
        rf = decision.red_flags
        incomplete = rf is not None and rf.status == "incomplete"
        missing = [m.fact for m in decision.missing_information or ()]
        questionnaires = self.wording.suggestions.missing_questionnaire
        wanted = [p for p in missing if p in questionnaires.instruments]
        if not incomplete and not wanted:
            return None
        suggestions: list[dict[str, Any]] = []
        for path in wanted[:3]:
            inst = questionnaires.instruments[path]
            system, code, display = default_code_index().code_for_fact(path)
            task: dict[str, Any] = {
                "resourceType": "Task",
                "status": "draft",
                "intent": "proposal",
                "code": {"coding": [{"system": system, "code": code, "display": display}]},
                "description": questionnaires.description.format(name=inst.name),
            }
            if ctx.patient_ref:
                task["for"] = {"reference": ctx.patient_ref}
            suggestions.append(
                {
                    "label": _short(questionnaires.label.format(name=inst.name), 80),
                    "uuid": str(uuid.uuid4()),
                    "actions": [{"type": "create", "description": task["description"], "resource": task}],
                }
            )
        unanswered = list(rf.missing) if rf is not None else []
        if incomplete:
            summary = self.wording.summaries.red_flag_screen_incomplete.format(count=len(unanswered))
            indicator = self.wording.red_flag_screen_incomplete_indicator
        else:
            summary = questionnaires.label.format(name=questionnaires.instruments[wanted[0]].name)
            indicator = "info"
        lines = [f"**{h.unknown}**", ""]
        lines += [f"- `{p}`" for p in (unanswered if incomplete else [])[:20]]
        lines += [f"- `{p}`" for p in missing[:_MISSING_LISTED] if p not in unanswered]
        lines += self._footer(decision, None)
        card = self._card(_short(summary), "\n".join(lines), indicator, (), suggestions, selection="any")
        return IssuedCard(card, None, None)

    def _mapping_card(self, decision: DecisionDocument, ctx: CardContext) -> IssuedCard | None:
        notable = [i for i in ctx.mapped.issues if i.severity in ("error", "warning")]
        if not notable:
            return None
        h = self.wording.detail_headings
        lines = [f"**{h.mapping}**", ""]
        lines += [f"- `{i.source}`: {i.message}" for i in notable[:20]]
        lines += self._footer(decision, None)
        summary = self.wording.summaries.mapping_issues.format(count=len(notable))
        return IssuedCard(self._card(_short(summary), "\n".join(lines), "info", (), []), None, None)

    def build(self, decision: DecisionDocument | Mapping[str, Any], ctx: CardContext) -> list[IssuedCard]:
        """Cards, most urgent first; a decision needing manual review gives one warning card.

        Pass the ``DecisionDocument`` (``DecisionDocument.model_validate_json(issued.body)``). A decoded
        mapping is still accepted, and validated here, until routes/cds_hooks.py passes the document.
        """
        if not isinstance(decision, DecisionDocument):
            decision = DecisionDocument.model_validate(decision)
        if decision.status != "ok":
            s = self.wording.summaries
            detail = "\n".join([s.manual_review_detail, *self._footer(decision, None)])
            card = self._card(_short(s.manual_review), detail, "warning", (), [])
            return [IssuedCard(card, None, None)]
        cards: list[IssuedCard] = []
        for f in findings_of(decision):
            indicator = self._indicator(decision, f, ctx)
            if indicator is None:
                continue
            suggestions = self._replacement(f, ctx) if f.kind == "adherence" else []
            card = self._card(self._summary(f), self._detail(decision, f, ctx), indicator, f.cites, suggestions)
            cards.append(IssuedCard(card, f.rule_id, f.rule_version))
        for extra in (self._missing_card(decision, ctx), self._mapping_card(decision, ctx)):
            if extra is not None:
                cards.append(extra)
        rank = {"critical": 0, "warning": 1, "info": 2}
        return sorted(cards, key=lambda c: rank[c.card["indicator"]])
