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
from painpath.engine import (
    Finding,
    Guideline,
    citation_lines,
    facts_used,
    findings_of,
    guideline_for,
    missing_for,
    question_of,
)
from painpath.engine.contract import DecisionDocument, DecisionPossibleFinding
from painpath.facts.questions import load_questions
from painpath.fhir import FhirFacts, Referral, default_code_index


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


class _Blank(dict[str, str]):
    """Format values; a form naming a value that is not given is not used (``KeyError``)."""

    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def choose_form(
    forms: Sequence[str], values: Mapping[str, object] | None = None, *, limit: int = SUMMARY_MAX, **more: object
) -> str:
    """The first of ``forms`` (longest first) that can be filled from ``values`` and fits in ``limit``.

    Nothing is cut: when no form fits, the last fillable one is returned (and a test of every rule's
    summary fails), so a summary is always a whole sentence from data.
    """
    filled: list[str] = []
    merged = {**(values or {}), **more}
    given = _Blank({k: " ".join(str(v).split()) for k, v in merged.items() if v is not None})
    for form in forms:
        try:
            text = form.format_map(given)
        except KeyError:
            continue
        filled.append(text)
        if len(text) <= limit:
            return text
    if not filled:
        raise ValueError(f"no summary form can be filled from {sorted(merged)}")
    return filled[-1]


def _value(fact: str, value: Any) -> str:
    """A recorded value as the question catalogue labels it (``low_back`` -> "Low back"), with its unit."""
    question = load_questions().get(fact)
    if isinstance(value, list | tuple):
        return ", ".join(_value(fact, v) for v in value)
    if value is None:
        return "not recorded"
    label = question.label(value) if question is not None else None
    if label is not None:
        return label
    if isinstance(value, bool):
        return "yes" if value else "no"
    unit = question.unit if question is not None else None
    return f"{value} {unit}" if unit and isinstance(value, int | float) else str(value)


def _fact_line(fact: str, value: Any, sources: Mapping[str, str]) -> str:
    """One recorded fact in plain language: its question, the answer, and the record it came from."""
    where = sources.get(fact)
    return f"- {question_of(fact)} {_value(fact, value)}" + (f" (from `{where}`)" if where else "")


class CardBuilder:
    """Turns one decision into cards for one hook call."""

    def __init__(self, wording: Wording, guidelines: Mapping[str, Guideline]) -> None:
        self.wording = wording
        self.guidelines = guidelines

    def _source(self, cites: Sequence[str]) -> dict[str, Any]:
        """The first cited guideline with a URL and a short name (``source_labels``), else painpath."""
        for cite in cites:
            g = guideline_for(cite, self.guidelines)
            label = self.wording.source_labels.get(g.id) if g is not None else None
            if g is not None and g.url and label:
                return {"label": label, "url": g.url}
        return {"label": self.wording.source.label, "url": self.wording.source.url}

    def _override_reasons(self, kind: str | None) -> list[dict[str, str]]:
        reasons = self.wording.override_reasons
        if kind not in reasons.on_kinds:
            return []
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
        why = [" ".join(line.split()) for line in (f.explanation, f.text) if line]
        out = [f"**{h.why}**", "", *why, ""]
        # derived.* facts are the rules' own conclusions, said by the explanation, not asked
        supporting = [u for u in used if u[2] == "true" and not u[0].startswith("derived.")]
        against = [u for u in used if u[2] == "false" and not u[0].startswith("derived.")]
        if supporting:
            out += [f"**{h.facts}**", "", *(_fact_line(p, v, sources) for p, v, _r, _l in supporting), ""]
        if against:
            out += [f"**{h.why_not}**", "", *(_fact_line(p, v, sources) for p, v, _r, _l in against), ""]
        unknown = [p for p in missing_for(decision, f.rule_id) if not p.startswith("derived.")]
        if unknown:
            out += [f"**{h.unknown}**", "", *(f"- {question_of(p)}" for p in unknown), ""]
        if f.advice:
            out += [f"**{h.advice}**", "", *(f"- {a}" for a in f.advice), ""]
        out += [f"**{h.sources}**", "", *citation_lines(f.cites, self.guidelines)]
        out += self._footer(decision, (f.rule_id, f.rule_version))
        return "\n".join(out)

    def summary(self, f: Finding) -> str:
        """The card's summary: the first whole form from ``cards.yaml`` that fits (never cut)."""
        s = self.wording.summaries
        urgency = f.urgency or "routine"
        values: dict[str, object] = {
            "urgency_label": self.wording.urgency_labels.get(urgency, urgency),
            "text": f.text,
            "short": self.wording.short_summaries.get(f.rule_id),
        }
        if f.kind == "red_flag":
            values["condition"] = (f.condition or "").replace("_", " ")
            values["action_short"] = self.wording.action_short.get(urgency, "")
            return choose_form(s.red_flag, values)
        if f.kind == "safety_alert":
            return choose_form(s.safety_alert, values)
        if f.kind == "note":
            return choose_form(s.note, values)
        if f.kind == "pmp":
            return choose_form(s.pmp, status=self.wording.pmp_status_labels.get(f.status or "", f.status))
        return choose_form(s.adherence, values)

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
        kind: str | None = None,
    ) -> dict[str, Any]:
        card: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "summary": summary,
            "detail": detail,
            "indicator": indicator,
            "source": self._source(cites),
        }
        reasons = self._override_reasons(kind)
        if reasons:
            card["overrideReasons"] = reasons
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = selection
        return card

    def _questionnaire_tasks(self, wanted: Sequence[str], ctx: CardContext) -> list[dict[str, Any]]:
        """Suggestions: a draft Task per screening questionnaire whose score is not recorded."""
        questionnaires = self.wording.suggestions.missing_questionnaire
        suggestions: list[dict[str, Any]] = []
        for path in wanted:
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
                    "label": questionnaires.label.format(name=inst.name),
                    "uuid": str(uuid.uuid4()),
                    "actions": [{"type": "create", "description": task["description"], "resource": task}],
                }
            )
        return suggestions

    def _possible_card(self, decision: DecisionDocument, p: DecisionPossibleFinding, ctx: CardContext) -> IssuedCard:
        """A possible red flag (evidence recorded, not settled): what was recorded, then the questions first."""
        h = self.wording.detail_headings
        questions = [q.question for q in p.settle][: self.wording.questions_per_card]
        summary = choose_form(
            self.wording.summaries.possible_red_flag,
            urgency_label=self.wording.urgency_labels.get(p.urgency, p.urgency),
            text=p.text[:1].upper() + p.text[1:],
            condition=p.condition.replace("_", " "),
            count=len(questions),
        )
        lines = [f"**{h.answer_first}**", "", *(f"{i}. {q}" for i, q in enumerate(questions, 1)), ""]
        recorded = [_fact_line(fact, value, ctx.mapped.sources) for fact, value in p.evidence.items()]
        if recorded:
            lines += [f"**{h.facts}**", "", *recorded, ""]
        lines += [f"**{h.sources}**", "", *citation_lines(tuple(p.rule.cites), self.guidelines)]
        lines += self._footer(decision, (p.rule.id, p.rule.version))
        indicator = self.wording.indicator_by_urgency.get(p.urgency, "info")
        card = self._card(summary, "\n".join(lines), indicator, p.rule.cites, [])
        return IssuedCard(card, p.rule.id, p.rule.version)

    def _questions_card(self, decision: DecisionDocument, ctx: CardContext) -> IssuedCard | None:
        """The decision's ranked next questions, in plain language, a few at a time.

        Shown while the red-flag screen is incomplete, or when a screening questionnaire's score is
        missing (offered as a Task); a questionnaire whose score is recorded is never suggested, its
        missing items are asked.
        """
        h = self.wording.detail_headings
        s = self.wording.summaries
        rf = decision.red_flags
        # a possible red flag also leaves the screen incomplete; its own card asks its questions first
        incomplete = rf is not None and rf.status in ("incomplete", "possible")
        missing = list(decision.missing_information or ())
        instruments = self.wording.suggestions.missing_questionnaire.instruments
        wanted = [m.fact for m in missing if m.fact in instruments]
        if not incomplete and not wanted:
            return None
        # a questionnaire offered as a Task is not also asked item by item
        asked = [m for m in missing if m.fact not in instruments][: self.wording.questions_per_card]
        if incomplete:
            summary = choose_form(s.red_flag_screen_incomplete, count=len(rf.missing) if rf else len(asked))
            indicator = self.wording.red_flag_screen_incomplete_indicator
        else:
            summary = choose_form(s.questions, count=len(missing))
            indicator = "info"
        lines = [f"**{h.next_questions}**", "", *(f"{i}. {m.question}" for i, m in enumerate(asked, 1)), ""]
        lines += self._footer(decision, None)
        suggestions = self._questionnaire_tasks(wanted[:3], ctx)
        card = self._card(summary, "\n".join(lines), indicator, (), suggestions, selection="any")
        return IssuedCard(card, None, None)

    def _mapping_card(self, decision: DecisionDocument, ctx: CardContext) -> IssuedCard | None:
        notable = [i for i in ctx.mapped.issues if i.severity in ("error", "warning")]
        if not notable:
            return None
        h = self.wording.detail_headings
        lines = [f"**{h.mapping}**", ""]
        lines += [f"- `{i.source}`: {i.message}" for i in notable[:20]]
        lines += self._footer(decision, None)
        summary = choose_form(self.wording.summaries.mapping_issues, count=len(notable))
        return IssuedCard(self._card(summary, "\n".join(lines), "info", (), []), None, None)

    def build(self, decision: DecisionDocument | Mapping[str, Any], ctx: CardContext) -> list[IssuedCard]:
        """Cards, most urgent first; a decision needing manual review gives one warning card.

        Pass the ``DecisionDocument`` (``DecisionDocument.model_validate_json(issued.body)``). A decoded
        mapping is still accepted, and validated here, until routes/cds_hooks.py passes the document.
        """
        if not isinstance(decision, DecisionDocument):
            decision = DecisionDocument.model_validate(decision)
        if decision.status != "ok":
            s = self.wording.summaries
            detail = "\n".join([self.wording.manual_review_detail, *self._footer(decision, None)])
            card = self._card(choose_form(s.manual_review), detail, "warning", (), [])
            return [IssuedCard(card, None, None)]
        cards: list[IssuedCard] = []
        for f in findings_of(decision):
            indicator = self._indicator(decision, f, ctx)
            if indicator is None:
                continue
            suggestions = self._replacement(f, ctx) if f.kind == "adherence" else []
            detail = self._detail(decision, f, ctx)
            card = self._card(self.summary(f), detail, indicator, f.cites, suggestions, kind=f.kind)
            cards.append(IssuedCard(card, f.rule_id, f.rule_version))
        possible = decision.red_flags.possible if decision.red_flags is not None else []
        cards += [self._possible_card(decision, p, ctx) for p in possible]
        for extra in (self._questions_card(decision, ctx), self._mapping_card(decision, ctx)):
            if extra is not None:
                cards.append(extra)
        rank = {"critical": 0, "warning": 1, "info": 2}
        return sorted(cards, key=lambda c: rank[c.card["indicator"]])
