"""Read-only views of the loaded ruleset for the rules and guidelines endpoints.

Pure functions from the engine's IR to JSON-ready data; nothing here evaluates a rule. The rules
index matches ``painpath rules list --format json`` field for field (a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from painpath.engine import AllNode, AnyNode, Guideline, Leaf, Node, NotNode, Rule, RulesetIR, rule_summary


def _jsonable(value: Any) -> Any:
    # Duplicates engine/render.py's _jsonable; kept until the engine facade exports one (issue 10, for the lead).
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return list(value) if isinstance(value, tuple) else value


def ruleset_ref(ruleset: RulesetIR) -> dict[str, str]:
    return {"name": ruleset.name, "version": ruleset.version, "content_hash": ruleset.content_hash}


def rules_index(ruleset: RulesetIR) -> dict[str, Any]:
    return {"ruleset": ruleset_ref(ruleset), "rules": [rule_summary(r) for r in ruleset.rules]}


def condition(node: Node, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A condition tree in the rule language's own shape, with parameter values in force."""
    out: dict[str, Any]
    if isinstance(node, Leaf):
        value = parameters.get(node.param) if node.param is not None else node.value
        out = {"fact": node.path, "op": node.op, "value": _jsonable(value)}
        if node.param is not None:
            out["parameter"] = node.param
    elif isinstance(node, AllNode):
        out = {"all": [condition(c, parameters) for c in node.children]}
    elif isinstance(node, AnyNode):
        out = {"any": [condition(c, parameters) for c in node.children]}
    elif isinstance(node, NotNode):
        out = {"not": condition(node.child, parameters)}
    else:
        out = {"at_least": node.n, "of": [condition(c, parameters) for c in node.children]}
    if node.label:
        out["label"] = node.label
    return out


def citation(ref: str, guidelines: Mapping[str, Guideline]) -> dict[str, Any]:
    """``guideline#section`` resolved to the guideline's title, URL and the section's summary."""
    gid, _, section = ref.partition("#")
    g = guidelines.get(gid)
    out: dict[str, Any] = {"ref": ref, "guideline": gid, "section": section or None}
    if g is not None:
        out.update(title=g.title, url=g.url, text=g.sections.get(section) if section else g.summary.strip())
    return out


def rule_detail(ruleset: RulesetIR, rule: Rule, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Everything about one rule: condition, conclusion, citations, wording and test vectors."""
    return {
        **rule_summary(rule),
        "groups": list(rule.groups),
        "rationale": rule.rationale.strip(),
        "citations": [citation(c, ruleset.guidelines) for c in rule.cites],
        "condition": condition(rule.when, parameters),
        "concludes": rule.concludes.model_dump(mode="json"),
        "explanation": rule.explanation.strip(),
        "vectors": [v.model_dump(mode="json") for v in rule.vectors],
        "ruleset": ruleset_ref(ruleset),
    }


def guideline_summary(g: Guideline) -> dict[str, Any]:
    return {
        "id": g.id,
        "title": g.title,
        "publisher": g.publisher,
        "year": g.year,
        "url": g.url,
        "identifier": g.identifier,
        "verification": g.verification,
    }


def guidelines_index(ruleset: RulesetIR) -> dict[str, Any]:
    return {
        "ruleset": ruleset_ref(ruleset),
        "guidelines": [guideline_summary(g) for _, g in sorted(ruleset.guidelines.items())],
    }


def guideline_detail(ruleset: RulesetIR, g: Guideline) -> dict[str, Any]:
    """A guideline with its section summaries and the rules and parameters citing it."""

    def cites_it(cites: tuple[str, ...] | list[str]) -> bool:
        return any(c.partition("#")[0] == g.id for c in cites)

    cited_by = [r.id for r in ruleset.rules if cites_it(r.cites)]
    cited_by += [f"parameter:{name}" for name, p in sorted(ruleset.parameters.items()) if cites_it(p.cites)]
    return {
        **guideline_summary(g),
        "summary": g.summary.strip(),
        "sections": dict(g.sections),
        "cited_by": cited_by,
        "ruleset": ruleset_ref(ruleset),
    }
