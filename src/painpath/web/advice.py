"""The live advice panel's view of a Decision: what to act on first, then the rest, in plain words.

Built from the typed Decision (never from its JSON). The template only lays this out, so richer
advice (possible findings, questions to ask next) arrives here as new fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from painpath.engine import Decision
from painpath.facts import CATALOGUE

MAX_MISSING = 10


def words(code: str | None) -> str:
    """``not_yet`` -> ``not yet``."""
    return (code or "").replace("_", " ")


@dataclass(frozen=True)
class Urgent:
    urgency: str
    title: str
    action: str
    rule: str


@dataclass(frozen=True)
class Line:
    title: str
    detail: str = ""


@dataclass(frozen=True)
class AdviceView:
    status: str
    manual_review: str | None
    act_first: tuple[Urgent, ...]
    red_flag_status: str | None
    red_flag_missing: tuple[str, ...]
    pmp: Line | None
    pmp_reasons: tuple[str, ...]
    pathways: tuple[Line, ...]
    missing: tuple[Line, ...]

    @property
    def emergency(self) -> bool:
        return any(u.urgency == "emergency" for u in self.act_first)


def _describe(path: str, texts: Mapping[str, str]) -> str:
    if path in texts:
        return texts[path]
    spec = CATALOGUE.get(path)
    return (
        spec.description.rstrip(".")
        if spec is not None and spec.description
        else words(path.rsplit(".", maxsplit=1)[-1])
    )


def advice_view(decision: Decision, texts: Mapping[str, str] | None = None) -> AdviceView:
    """The panel for ``decision``; ``texts`` maps fact paths to question wording for "missing" items."""
    texts = texts or {}
    if decision.status != "ok":
        return AdviceView(
            decision.status, decision.manual_review_reason or "manual review", (), None, (), None, (), (), ()
        )
    rank = decision.vocabulary.urgency_rank
    urgent: list[Urgent] = []
    for r in decision.safety_alerts:
        urgency = str(getattr(r.rule.concludes, "urgency", "routine"))
        urgent.append(Urgent(urgency, "Safety alert", r.text.strip(), f"{r.rule.id} v{r.rule.version}"))
    rf = decision.red_flags
    if rf is not None:
        for f in rf.findings:
            urgent.append(
                Urgent(f.urgency, words(f.condition).capitalize(), f.action.strip(), f"{f.rule.id} v{f.rule.version}")
            )
    urgent.sort(key=lambda u: rank.get(u.urgency, 9))
    pmp = decision.pmp
    pmp_line = None
    pmp_reasons: tuple[str, ...] = ()
    if pmp is not None:
        setting = f", {words(pmp.setting)}" if pmp.setting else ""
        pmp_line = Line(words(pmp.status).capitalize() + setting)
        pmp_reasons = tuple(r.text.strip() for r in (*pmp.reasons, *pmp.setting_reasons))
    order = {"recommended": 0, "consider": 1}
    pathways = tuple(
        Line(words(p.option).capitalize(), words(p.entry.status))
        for p in sorted(decision.pathways, key=lambda p: order.get(p.entry.status, 9))
        if p.entry.status in order
    )
    missing = tuple(Line(_describe(m.path, texts), m.path) for m in decision.missing_information[:MAX_MISSING])
    return AdviceView(
        status=decision.status,
        manual_review=None,
        act_first=tuple(urgent),
        red_flag_status=rf.status if rf is not None else None,
        red_flag_missing=tuple(_describe(p, texts) for p in decision.red_flag_missing[:MAX_MISSING]),
        pmp=pmp_line,
        pmp_reasons=pmp_reasons,
        pathways=pathways,
        missing=missing,
    )
