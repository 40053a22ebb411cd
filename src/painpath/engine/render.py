"""Render a Decision as the documented JSON contract or as a clinician-readable summary."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

from painpath.engine import ir
from painpath.engine.decision import Decision, PossibleFinding, Proviso, Reason, RuleOutcome, SectionEntry
from painpath.engine.kleene import NAMES, U, resolve_value
from painpath.facts import CATALOGUE
from painpath.facts.questions import load_questions


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, frozenset, set)):
        return sorted(value, key=repr) if isinstance(value, (frozenset, set)) else list(value)
    return value


def clause(
    leaf: ir.Leaf, negated: bool, values: tuple[int, ...], facts: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """One condition of a rule, with the fact's value and the condition's truth value."""
    head, tail = _clause_parts(leaf, negated, params)
    return {**head, "actual": _jsonable(facts.get(leaf.path)), "result": NAMES[values[leaf.index]], **tail}


_CLAUSE_MEMO: dict[tuple[int, bool, Any], tuple[ir.Leaf, dict[str, Any], dict[str, Any]]] = {}
_CLAUSE_MEMO_LIMIT = 8192


def _clause_parts(leaf: ir.Leaf, negated: bool, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parts of a clause that do not depend on the patient: what comes before ``actual`` and
    ``result`` (fact, operator, expected value) and after them (parameter, negation, label). They
    depend on the leaf and, for a parameterised one, the parameter's value: remembered (read-only)."""
    param_value = params.get(leaf.param) if leaf.param else None
    try:
        key = (id(leaf), negated, param_value)
        found = _CLAUSE_MEMO.get(key)
    except TypeError:  # an unhashable parameter value (a list): not remembered
        key, found = None, None
    if found is not None and found[0] is leaf:  # the leaf itself, not another that reused its id
        return found[1], found[2]
    head: dict[str, Any] = {
        "fact": leaf.path,
        "op": leaf.op,
        "expected": True if leaf.op == "recorded" else _jsonable(resolve_value(leaf, params)),
    }
    tail: dict[str, Any] = {}
    if leaf.param:
        tail["parameter"] = leaf.param
    if negated:
        tail["negated"] = True
    if leaf.label:
        tail["label"] = leaf.label
    if key is not None:
        if len(_CLAUSE_MEMO) >= _CLAUSE_MEMO_LIMIT:
            _CLAUSE_MEMO.clear()
        _CLAUSE_MEMO[key] = (leaf, head, tail)
    return head, tail


def _params(decision: Decision) -> dict[str, Any]:
    return {name: use.value for name, use in decision.parameters.items()}


def rule_summary(rule: ir.Rule) -> dict[str, Any]:
    """One entry of the rules index: id, version, title, stratum, cites and vector counts per expectation."""
    counts = {k: sum(1 for v in rule.vectors if v.expect == k) for k in ("fired", "not_fired", "undetermined")}
    return {
        "id": rule.id,
        "version": rule.version,
        "title": rule.title,
        "status": rule.status,
        "stratum": rule.stratum,
        "conclusion": rule.concludes.kind,
        "cites": list(rule.cites),
        "vectors": counts,
        "file": rule.file,
    }


def rule_ref(rule: ir.Rule) -> dict[str, Any]:
    return {"id": rule.id, "version": rule.version, "cites": list(rule.cites)}


def outcome_dict(o: RuleOutcome, decision: Decision, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything about one rule's outcome: status, why / why not, unknowns and citations."""
    if params is None:
        params = _params(decision)
    support = decision.support(o)
    out: dict[str, Any] = {
        "id": o.rule.id,
        "version": o.rule.version,
        "title": o.rule.title,
        "stratum": o.rule.stratum,
        "status": o.status,
        "cites": list(o.rule.cites),
        "facts_used": {p: _jsonable(decision.facts.get(p)) for p in o.rule.facts_used},
        "because": [clause(leaf, neg, o.values, decision.facts, params) for leaf, neg in support],
    }
    if o.status == "fired":
        out["explanation"] = o.rule.explanation.strip()
    if o.status == "undetermined":
        # the unknown clauses explain an undetermined rule; their facts are what would settle it
        out["missing"] = list(dict.fromkeys(leaf.path for leaf, _neg in support if o.values[leaf.index] == U))
    return out


def _because(o: RuleOutcome, decision: Decision, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The clauses that decided a rule's status."""
    values, facts = o.values, decision.facts
    return [clause(leaf, neg, values, facts, params) for leaf, neg in decision.support(o)]


def _reason(r: Reason) -> dict[str, Any]:
    # A reason depends on its rule alone: rendered once per engine, then shared (read-only).
    key = ("reason", r.text, r.instead)
    memo = r.rule.render_memo
    out: dict[str, Any] | None = memo.get(key)
    if out is None:
        out = {"rule": rule_ref(r.rule), "text": r.text.strip()}
        if r.instead:
            out["instead"] = r.instead.strip()
        memo[key] = out
    return out


@functools.lru_cache(maxsize=4096)
def question_of(path: str) -> str:
    """The plain-language question that records a fact (``facts/questions.yaml``, the bundled catalogue);
    the fact's description, else its path, for facts without a question (e.g. derived facts)."""
    question = load_questions().get(path)
    if question is not None:
        return question.text
    spec = CATALOGUE.get(path)
    return spec.description if spec is not None and spec.description else path


def _proviso(p: Proviso) -> dict[str, Any]:
    out: dict[str, Any] = {"text": p.text, "facts": list(p.facts), "questions": [question_of(f) for f in p.facts]}
    if p.rule is not None:
        out["rule"] = rule_ref(p.rule)
    return out


def _bounds(e: SectionEntry) -> dict[str, Any]:
    """The members that say how certain a section's answer is (left out when it is definite)."""
    if e.certainty == "definite":
        return {}
    out: dict[str, Any] = {"certainty": e.certainty, "bounds": list(e.bounds)}
    if e.conditional is not None:
        out["conditional"] = e.conditional
        out["provided_that"] = [_proviso(p) for p in e.provisos]
    if e.also_check:
        out["also_check"] = [_proviso(p) for p in e.also_check]
    return out


def possible_dict(p: PossibleFinding, decision: Decision) -> dict[str, Any]:
    return {
        "condition": p.condition,
        "urgency": p.urgency,
        "text": p.text,
        "rule": rule_ref(p.rule),
        "evidence": {path: _jsonable(decision.facts.get(path)) for path in p.evidence},
        "settle": [{"fact": f, "question": question_of(f)} for f in p.settle],
        "also_rules": list(p.also),
    }


_ENTRY_MEMO: dict[int, tuple[SectionEntry, dict[str, Any]]] = {}
_ENTRY_MEMO_LIMIT = 8192


def _entry(e: SectionEntry) -> dict[str, Any]:
    """A section entry's status, reasons and bounds. It depends on the (frozen) entry alone, and the
    engine shares entries between decisions with the same rule results: remembered by the entry
    (read-only; the memo holds the entry, so its id cannot be reused while it is remembered)."""
    found = _ENTRY_MEMO.get(id(e))
    if found is not None and found[0] is e:
        return found[1]
    out: dict[str, Any] = {"status": e.status, "reasons": [_reason(r) for r in e.reasons]}
    if e.blocked_by:
        out["waiting_on_rules"] = list(e.blocked_by)
    out.update(_bounds(e))
    if len(_ENTRY_MEMO) >= _ENTRY_MEMO_LIMIT:
        _ENTRY_MEMO.clear()
    _ENTRY_MEMO[id(e)] = (e, out)
    return out


Trace = Literal["full", "summary"]
"""How much of the rule trace a rendered decision carries: ``full`` gives every rule its clauses (why,
why not, unknown); ``summary`` (the default of the API) lists only the rules that fired (id, version,
stratum, status and the clauses that decided them; the sections give their reasons) and the
undetermined rules with the facts that would settle each; rules that did not fire are left out.
The sections are the same either way."""


def decision_to_dict(decision: Decision, *, trace: Trace = "full") -> dict[str, Any]:
    """The Decision as JSON-ready data (see docs/decision-format.md and schemas/decision.schema.json)."""
    params = _params(decision)
    out: dict[str, Any] = {
        "decision_id": decision.decision_id,
        "created_at": decision.created_at,
        "status": decision.status,
        "engine": {"name": "painpath", "version": decision.engine_version, "evaluator": decision.evaluator},
        "ruleset": {
            "name": decision.ruleset_name,
            "version": decision.ruleset_version,
            "content_hash": decision.ruleset_hash,
        },
        "parameters": (
            {n: {"value": u.value, "source": u.source, "cites": list(u.cites)} for n, u in decision.parameters.items()}
            if trace == "full"
            else {n: {"value": u.value, "source": u.source} for n, u in decision.parameters.items()}
        ),
    }
    if decision.patient_id is not None:
        out["patient_id"] = decision.patient_id
    if decision.provenance:
        out["provenance"] = dict(decision.provenance)
    if decision.status == "manual_review":
        out["manual_review"] = {
            "reason": decision.manual_review_reason,
            "details": list(decision.manual_review_details),
        }
        return out
    rf = decision.red_flags
    if rf is not None:
        fired = {o.rule.id: o for o in decision.fired_outcomes} if rf.findings else {}
        out["red_flags"] = {
            "status": rf.status,
            "findings": [
                {
                    "condition": f.condition,
                    "urgency": f.urgency,
                    "action": f.action.strip(),
                    "rule": rule_ref(f.rule),
                    "explanation": f.rule.explanation.strip(),
                    "facts_used": _because(fired[f.rule.id], decision, params),
                }
                for f in rf.findings
            ],
            "possible": [possible_dict(p, decision) for p in rf.possible],
            "missing": list(decision.red_flag_missing),
        }
    out["safety_alerts"] = [
        {**_reason(r), "alert": r.rule.concludes.alert, "urgency": r.rule.concludes.urgency}  # type: ignore[union-attr]
        for r in decision.safety_alerts
    ]
    if decision.pmp is not None:
        p = decision.pmp
        out["pmp"] = {
            "status": p.status,
            "setting": p.setting,
            "reasons": [_reason(r) for r in p.reasons],
            "setting_reasons": [_reason(r) for r in p.setting_reasons],
            "preparation": [item.strip() for item in p.preparation],
        }
        if p.blocked_by:
            out["pmp"]["waiting_on_rules"] = list(p.blocked_by)
        if p.entry is not None:
            out["pmp"].update(_bounds(p.entry))
        if p.setting_entry is not None and p.setting_entry.certainty != "definite":
            out["pmp"]["setting_bounds"] = _bounds(p.setting_entry)
    out["scores"] = {
        sid: {
            "title": b.title,
            "label": b.label,
            "text": b.text,
            "values": {path: _jsonable(v) for path, v in b.values},
            "source": b.source,
            "cites": list(b.cites),
        }
        for sid, b in decision.scores.items()
    }
    out["referrals"] = [
        {"referral": r.referral, **_entry(r.entry), "contents": [item.strip() for item in r.contents]}
        for r in decision.referrals
    ]
    # Constant texts of the ruleset (evidence notes, catalogue descriptions, parameter citations) are in
    # the full trace only: the default response carries what this patient's decision says.
    full = trace == "full"
    out["pathways"] = [
        {"option": pw.option, **_entry(pw.entry), **({"evidence": pw.evidence} if full else {})}
        for pw in decision.pathways
    ]
    out["best_practice"] = {
        a.recommendation: {**_entry(a.entry), "advice": [item.strip() for item in a.advice]}
        for a in decision.best_practice
    }
    out["notes"] = [_reason(r) for r in decision.notes]
    ask = question_of
    if full:
        out["missing_information"] = [
            {
                "fact": m.path,
                "description": CATALOGUE[m.path].description if m.path in CATALOGUE else "",
                "question": ask(m.path),
                "tier": m.tier,
                "needed_by": list(m.needed_by),
            }
            for m in decision.missing_information
        ]
    else:
        out["missing_information"] = [
            {"fact": m.path, "question": ask(m.path), "tier": m.tier, "needed_by": list(m.needed_by)}
            for m in decision.missing_information
        ]
    out["trace"] = trace
    if trace == "full":
        out["rules"] = [outcome_dict(o, decision, params) for o in decision.outcomes]
        return out
    rules: list[dict[str, Any]] = []
    # the full trace (``?trace=full``, ``GET .../trace``) lists the others with their clauses; the
    # facts worth asking for are in ``missing_information`` (``needed_by``)
    for o in decision.fired_outcomes:
        rule = o.rule
        rules.append(
            {
                "id": rule.id,
                "version": rule.version,
                "stratum": rule.stratum,
                "status": "fired",
                # why it fired: the clauses that decided it (cards and FHIR cite them)
                "because": _because(o, decision, params),
            }
        )
    out["rules"] = rules
    return out


def _ref(rule: ir.Rule, cites: bool = False) -> str:
    return f"{rule.id} v{rule.version}" + (f"; {', '.join(rule.cites)}" if cites else "")


def _urgent_lines(decision: Decision) -> list[str]:
    """Safety alerts, red-flag findings and possible findings merged, most urgent first (on a tie: a
    safety alert, then a finding, then a possible finding)."""
    vocab = decision.vocabulary
    rank = vocab.urgency_rank
    label = vocab.urgency_labels
    items: list[tuple[int, list[str]]] = []
    for r in decision.safety_alerts:
        urgency = str(getattr(r.rule.concludes, "urgency", vocab.urgencies[-1]))
        items.append((rank[urgency], [f"  [{label[urgency]}] SAFETY: {r.text.strip()}  ({_ref(r.rule, cites=True)})"]))
    if decision.red_flags is not None:
        for f in decision.red_flags.findings:
            o = decision.outcome(f.rule.id)
            used = ", ".join(
                f"{leaf.path}={_jsonable(decision.facts.get(leaf.path))}" for leaf, _n in decision.support(o)
            )
            items.append(
                (
                    rank[f.urgency],
                    [
                        f"  [{label[f.urgency]}] RED FLAG {f.condition.replace('_', ' ')}: {f.action.strip()}",
                        f"      because {used}  ({_ref(f.rule, cites=True)})",
                    ],
                )
            )
        for p in decision.red_flags.possible:
            evidence = ", ".join(f"{path}={_jsonable(decision.facts.get(path))}" for path in p.evidence)
            block = [
                f"  [{label[p.urgency]}] POSSIBLE: {p.text}",
                f"      because {evidence}  ({_ref(p.rule, cites=True)})",
                "      ask now:",
            ]
            block.extend(f"        - {question_of(f)}" for f in p.settle)
            items.append((rank[p.urgency], block))
    items.sort(key=lambda item: item[0])  # stable: alerts, then findings, then possible findings
    return [line for _rank, block in items for line in block]


def _asks(facts: tuple[str, ...], most: int = 3) -> str:
    """The first questions that record ``facts``, and how many more there are."""
    shown = "; ".join(question_of(f) for f in facts[:most])
    more = len(facts) - most
    return shown + (f"; and {more} more (see Next questions)" if more > 0 else "")


def _answer(label: str, e: SectionEntry, words: Any) -> list[str]:
    """A section's answer in words, with its proviso checklist or what else to check."""
    lines: list[str] = []
    if e.certainty == "conditional" and e.conditional is not None:
        lines.append(f"{label}: {words(e.conditional)}, provided that:")
        lines.extend(f"    [ ] {p.text}" + (f" (ask: {_asks(p.facts)})" if p.facts else "") for p in e.provisos)
    elif e.certainty == "bounded":
        lines.append(f"{label}: {words(e.status)} (certain: not now, whatever the unanswered questions say)")
        if e.also_check:
            lines.append("    also check: " + "; ".join(p.text for p in e.also_check))
    else:
        lines.append(f"{label}: {words(e.status)}")
    return lines


def _waiting(decision: Decision, e: SectionEntry) -> list[str]:
    """For an undetermined answer: the questions that would settle it."""
    if e.certainty != "undetermined" and e.status != "undetermined":
        return []
    facts = tuple(
        dict.fromkeys(
            f for rid in e.blocked_by for f in decision.unknown_facts.get(rid, ()) if not f.startswith("derived.")
        )
    )
    return [f"      waiting on: {_asks(facts)}"] if facts else []


def decision_to_text(decision: Decision) -> str:
    """A clinician's summary: urgent actions (safety alerts, red flags and possible red flags, most
    urgent first), the red-flag screen, the answer to the referral, the PMP decision with what was
    considered, pathways (recommended first), the best-practice audit, and the next questions."""
    vocab = decision.vocabulary
    sections = vocab.sections
    lines = [
        f"painpath decision {decision.decision_id}",
        f"ruleset {decision.ruleset_name} {decision.ruleset_version} ({decision.ruleset_hash[:12]})",
        "",
    ]
    if decision.status == "manual_review":
        lines.append("MANUAL REVIEW REQUIRED: " + (decision.manual_review_reason or ""))
        lines.extend(f"  - {d}" for d in decision.manual_review_details)
        return "\n".join(lines) + "\n"
    urgent = _urgent_lines(decision)
    if urgent:
        lines.append("ACT FIRST (most urgent first; this comes before any pathway advice):")
        lines.extend(urgent)
    if decision.scores:
        lines.append("Scores:")
        for b in decision.scores.values():
            read = ", ".join(f"{path.removeprefix('instruments.')} {_jsonable(v)}" for path, v in b.values)
            lines.append(f"  - {b.title}: {b.text} ({read}; {', '.join(b.cites)})")
    rf = decision.red_flags
    if rf is not None:
        lines.append(f"Red-flag screen: {rf.status.upper()}")
        if rf.status in ("incomplete", "possible"):
            missing = decision.red_flag_missing
            lines.append(f"  Not yet answered: {len(missing)} screening item(s), asked under Next questions")
    referral = sections.get("referral")
    if decision.referrals and referral is not None:
        lines.append(f"{referral.title}:")
        for ref in decision.referrals:
            lines.extend("  " + line for line in _answer(ref.referral.replace("_", " "), ref.entry, referral.label))
            lines.extend(_waiting(decision, ref.entry))
            for reason in ref.entry.reasons:
                lines.append(f"      {reason.text.strip()}  ({_ref(reason.rule)})")
                if reason.instead:
                    lines.append(f"      instead: {reason.instead.strip()}")
            if ref.contents:
                lines.append("      the referral should contain:")
                lines.extend(f"      * {item.strip()}" for item in ref.contents)
    pmp = sections.get("pmp")
    if decision.pmp is not None and pmp is not None:
        p = decision.pmp
        setting = f", setting {p.setting.replace('_', ' ')}" if p.setting else ""
        entry = p.entry
        if entry is not None and entry.certainty in ("conditional", "bounded"):
            lines.extend(_answer(pmp.title, entry, pmp.label))
            if setting:
                lines.append(f"  setting:{setting.removeprefix(', setting')}")
        else:
            lines.append(f"{pmp.title}: {pmp.label(p.status)}{setting}")
        for r in (*p.reasons, *p.setting_reasons):
            lines.append(f"  - {r.text.strip()}  ({_ref(r.rule)})")
            if r.instead:
                lines.append(f"    instead: {r.instead.strip()}")
        if p.blocked_by and (entry is None or entry.certainty == "undetermined"):
            lines.append(f"  waiting on: {', '.join(p.blocked_by)}")
        if p.preparation:
            lines.append("  Preparing the patient:")
            lines.extend(f"  * {item.strip()}" for item in p.preparation)
    for r in decision.notes:
        lines.append(f"  Considered: {r.text.strip()}  ({r.rule.id})")
    pathway = sections.get("pathway")
    if decision.pathways and pathway is not None:
        order = {s: i for i, s in enumerate(pathway.display_order)}
        lines.append(f"{pathway.title}:")

        def shown(pw: Any) -> str:
            e = pw.entry
            return str(e.conditional if e.certainty == "conditional" else e.status)

        still_open = []
        for pw in sorted(decision.pathways, key=lambda pw: order.get(shown(pw), len(order))):
            if pw.entry.certainty == "undetermined" and pw.entry.status == "undetermined":
                still_open.append(pw.option.replace("_", " "))
                continue
            lines.extend("  " + line for line in _answer(f"- {pw.option.replace('_', ' ')}", pw.entry, pathway.label))
            for r in pw.entry.reasons:
                lines.append(f"      {r.text.strip()}  ({_ref(r.rule)})")
        if still_open:
            lines.append(f"  - still open, more answers needed: {', '.join(still_open)}")
    adherence = sections.get("adherence")
    if decision.best_practice and adherence is not None:
        lines.append(f"{adherence.title}:")
        unknown = [a.recommendation for a in decision.best_practice if a.entry.status == "unknown"]
        for a in decision.best_practice:
            if a.entry.status == "unknown" and len(unknown) > 1:
                continue
            extra = f" - {'; '.join(item.strip() for item in a.advice)}" if a.advice else ""
            lines.append(f"  {a.recommendation:>2}. {adherence.label(a.entry.status)}{extra}")
        if len(unknown) > 1:
            lines.append(f"  not yet determinable: {', '.join(unknown)}")
    if decision.missing_information:
        lines.append("Next questions (what could raise an urgency first, then what settles an answer):")
        for m in decision.missing_information[:15]:
            lines.append(f"  - {question_of(m.path)} [{m.path}]")
    return "\n".join(lines) + "\n"


__all__ = ["U", "decision_to_dict", "decision_to_text", "outcome_dict", "possible_dict", "question_of"]
