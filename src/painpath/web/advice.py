"""The live advice panel's view of a Decision: what to act on first, then the rest, in plain words.

Built from the typed Decision (never from its JSON). The template only lays this out. Every
question the panel asks links to the form field that answers it (``#field-<path>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from painpath.engine import Decision, Proviso, Rule, SectionEntry, question_of
from painpath.facts.questions import load_questions
from painpath.web.forms import field_id

MAX_MISSING = 10
MAX_ASKS = 4
"""Questions shown under one ACT FIRST item or proviso (the rest are in "Ask next")."""


def words(code: str | None) -> str:
    """``not_yet`` -> ``not yet``."""
    return (code or "").replace("_", " ")


def rule_ref(rule: Rule) -> str:
    return f"{rule.id} v{rule.version}"


@dataclass(frozen=True)
class Ask:
    """A question to ask, linked to its field."""

    path: str
    text: str
    tier: str = ""

    @property
    def href(self) -> str:
        return "#" + field_id(self.path)


def ask(path: str, tier: str = "") -> Ask:
    return Ask(path, question_of(path), tier)


@dataclass(frozen=True)
class Urgent:
    urgency: str
    title: str
    action: str
    rule: str
    kind: str = "present"
    """``present`` (a red flag found), ``possible`` (not ruled out; worst-case urgency) or ``alert``."""
    asks: tuple[Ask, ...] = ()
    cites: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    """One item of a "provided that" or "also check" list."""

    text: str
    asks: tuple[Ask, ...]
    rule: str | None


@dataclass(frozen=True)
class Answer:
    """A section's answer: a plain status with how certain it is, its reasons and its checklist."""

    title: str
    status: str
    label: str
    certainty: str
    reasons: tuple[str, ...] = ()
    instead: tuple[str, ...] = ()
    provisos: tuple[Check, ...] = ()
    also_check: tuple[Check, ...] = ()
    contents: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()

    @property
    def conditional(self) -> bool:
        return self.certainty == "conditional"


@dataclass(frozen=True)
class Score:
    title: str
    label: str
    text: str
    values: str
    topic: str
    cites: tuple[str, ...]
    entered: bool


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
    red_flag_missing: tuple[Ask, ...]
    referrals: tuple[Answer, ...] = ()
    pmp: Answer | None = None
    setting: Answer | None = None
    preparation: tuple[str, ...] = ()
    pathways: tuple[Answer, ...] = ()
    avoid: tuple[Line, ...] = ()
    pending: tuple[str, ...] = ()
    scores: tuple[Score, ...] = ()
    missing: tuple[Ask, ...] = ()
    missing_total: int = 0

    @property
    def emergency(self) -> bool:
        """A present or possible emergency: both show the emergency banner."""
        return any(u.urgency == "emergency" for u in self.act_first)

    @property
    def pmp_headline(self) -> str:
        if self.pmp is None:
            return ""
        if self.pmp.status == "recommended" and self.setting is not None and self.setting.certainty == "definite":
            return f"{self.setting.label.capitalize()} PMP recommended"
        return f"PMP {self.pmp.label}"


def _checks(items: tuple[Proviso, ...]) -> tuple[Check, ...]:
    return tuple(
        Check(p.text.strip(), tuple(ask(f) for f in p.facts[:MAX_ASKS]), rule_ref(p.rule) if p.rule else None)
        for p in items
    )


def _answer(decision: Decision, section: str, title: str, status: str, entry: SectionEntry | None) -> Answer:
    spec = decision.vocabulary.sections.get(section)

    def label(s: str) -> str:
        if s == "undetermined":
            return "not decided yet"
        return spec.label(s) if spec is not None else words(s)

    if entry is None:
        return Answer(title, status, label(status), "definite")
    shown = entry.conditional if entry.certainty == "conditional" and entry.conditional else entry.status
    text = label(shown)
    if entry.certainty == "conditional":
        text += ", provided that"
    elif entry.certainty == "bounded":
        text += " (not now)"
    return Answer(
        title=title,
        status=shown,
        label=text,
        certainty=entry.certainty,
        reasons=tuple(r.text.strip() for r in entry.reasons),
        instead=tuple(r.instead.strip() for r in entry.reasons if r.instead),
        provisos=_checks(entry.provisos),
        also_check=_checks(entry.also_check),
        rules=tuple(rule_ref(r.rule) for r in entry.reasons),
    )


def _referral_label(code: str) -> str:
    try:
        return load_questions().question("care.referrals_requested").label(code) or words(code).capitalize()
    except KeyError:
        return words(code).capitalize()


def act_first(decision: Decision) -> tuple[Urgent, ...]:
    """Safety alerts, present red flags and possible red flags, most urgent first (present before possible)."""
    rank = decision.vocabulary.urgency_rank
    urgent: list[tuple[int, int, Urgent]] = []
    for r in decision.safety_alerts:
        urgency = str(getattr(r.rule.concludes, "urgency", "routine"))
        alert = words(str(getattr(r.rule.concludes, "alert", ""))).capitalize() or "Safety alert"
        urgent.append(
            (
                rank.get(urgency, 9),
                0,
                Urgent(urgency, f"Safety alert: {alert}", r.text.strip(), rule_ref(r.rule), "alert", (), r.rule.cites),
            )
        )
    rf = decision.red_flags
    if rf is not None:
        for f in rf.findings:
            title = words(f.condition).capitalize()
            item = Urgent(f.urgency, title, f.action.strip(), rule_ref(f.rule), "present", (), f.rule.cites)
            urgent.append((rank.get(f.urgency, 9), 1, item))
        for p in rf.possible:
            item = Urgent(
                p.urgency,
                f"Possible {words(p.condition)}",
                p.text.strip(),
                rule_ref(p.rule),
                "possible",
                tuple(ask(path, "urgency") for path in p.settle[:MAX_ASKS]),
                p.rule.cites,
            )
            urgent.append((rank.get(p.urgency, 9), 2, item))
    return tuple(u for _r, _k, u in sorted(urgent, key=lambda t: (t[0], t[1])))


def _score_topic(paths: tuple[str, ...]) -> str:
    topics = load_questions().topic_rank
    questions = load_questions()
    for path in paths:
        if path in topics:
            return questions.question(path).topic
    return ""


def advice_view(decision: Decision) -> AdviceView:
    """The panel for ``decision``."""
    if decision.status != "ok":
        return AdviceView(decision.status, decision.manual_review_reason or "manual review", (), None, ())
    rf = decision.red_flags
    referrals = tuple(
        replace(
            _answer(decision, "referral", _referral_label(r.referral), r.entry.status, r.entry),
            contents=tuple(c.strip() for c in r.contents),
        )
        for r in decision.referrals
    )
    pmp = decision.pmp
    pmp_answer = setting = None
    preparation: tuple[str, ...] = ()
    if pmp is not None:
        pmp_answer = _answer(decision, "pmp", "Pain Management Programme", pmp.status, pmp.entry)
        if not pmp_answer.reasons:
            pmp_answer = replace(
                pmp_answer,
                reasons=tuple(r.text.strip() for r in pmp.reasons),
                instead=tuple(r.instead.strip() for r in pmp.reasons if r.instead),
                rules=tuple(rule_ref(r.rule) for r in pmp.reasons),
            )
        if (pmp.setting is not None and pmp.setting != "undetermined") or (
            pmp.setting_entry is not None and pmp.setting_entry.certainty == "conditional"
        ):
            setting = _answer(decision, "triage", "Programme setting", pmp.setting or "undetermined", pmp.setting_entry)
        preparation = tuple(p.strip() for p in pmp.preparation)
    order = {"recommended": 0, "consider": 1}
    shown: list[tuple[int, Answer]] = []
    avoid: list[Line] = []
    pending: list[str] = []
    for pw in decision.pathways:
        title = words(pw.option).capitalize()
        a = _answer(decision, "pathway", title, pw.entry.status, pw.entry)
        if a.status in order:
            shown.append((order[a.status] + (2 if a.conditional else 0), a))
        elif a.status == "not_recommended":
            avoid.append(Line(title, pw.evidence or ""))
        else:
            pending.append(title)
    scores = tuple(
        Score(
            b.title,
            words(b.label),
            b.text,
            ", ".join(f"{question_of(p).split(' (')[0]}: {v}" for p, v in b.values),
            _score_topic(tuple(p for p, _v in b.values)),
            b.cites,
            b.source == "entered",
        )
        for b in decision.scores.values()
    )
    missing = tuple(ask(m.path, m.tier) for m in decision.missing_information[:MAX_MISSING])
    return AdviceView(
        status=decision.status,
        manual_review=None,
        act_first=act_first(decision),
        red_flag_status=rf.status if rf is not None else None,
        red_flag_missing=tuple(ask(p) for p in decision.red_flag_missing[:MAX_MISSING]),
        referrals=referrals,
        pmp=pmp_answer,
        setting=setting,
        preparation=preparation,
        pathways=tuple(a for _k, a in sorted(shown, key=lambda t: t[0])),
        avoid=tuple(avoid),
        pending=tuple(pending),
        scores=scores,
        missing=missing,
        missing_total=len(decision.missing_information),
    )


def live_scores(
    view: AdviceView | None,
    decision: Decision | None,
    items_answered: Mapping[str, tuple[int, int]],
    topics: Iterable[str],
) -> dict[str, str]:
    """Instrument topic -> the line shown under it as it is filled in: items answered, total, band."""
    out: dict[str, str] = {}
    for topic in topics:
        parts: list[str] = []
        answered = items_answered.get(topic)
        if answered is not None:
            parts.append(f"{answered[0]} of {answered[1]} items answered")
        if decision is not None:
            total = decision.facts.get(f"instruments.{topic}.total")
            if answered is not None and total is not None:
                parts.append(f"total {total}")
        if view is not None:
            parts.extend(f"{s.title}: {s.label} ({s.text})" for s in view.scores if s.topic == topic)
        if parts:
            out[topic] = "; ".join(parts)
    return out
