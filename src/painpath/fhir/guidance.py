"""A decision as a FHIR R4 ``GuidanceResponse`` (with a contained ``RequestGroup`` and OperationOutcome).

* ``status`` is ``data-required`` when the red-flag screen is incomplete (absence of red flags is
  not established), with a ``dataRequirement`` per missing fact, coded from the FHIR code tables
  (LOINC where painpath reads one, else painpath's fact code system); ``success`` otherwise;
  ``failure`` when the decision needs manual review.
* ``result`` is a contained ``RequestGroup``: one action per finding (red flags and safety alerts
  first), each with its rule, citations and the facts used, pointing at the FHIR resources they
  came from (e.g. ``Observation/123``).
* ``evaluationMessage`` is a contained ``OperationOutcome`` listing the mapping issues (unknown
  codes, conflicting or stale observations), so nothing is dropped silently.

The document is validated with the ``fhir.resources.R4B`` models before it is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fhir.resources.R4B.guidanceresponse import GuidanceResponse

from painpath.engine import Guideline, facts_used, findings_of, guideline_for
from painpath.engine.contract import DecisionDocument
from painpath.fhir import MappingIssue, default_code_index

MODULE_BASE = "https://painpath.org/fhir/Library/"
_PRIORITY = {"emergency": "stat", "urgent": "urgent", "soon": "asap", "routine": "routine"}
_OTHER_REQUIREMENTS_MAX = 20


_REASON_TYPES = frozenset({"Condition", "Observation", "DiagnosticReport", "DocumentReference"})


def _requirement(path: str) -> dict[str, Any]:
    system, code, display = default_code_index().code_for_fact(path)
    return {
        "type": "Observation",
        "codeFilter": [{"path": "code", "code": [{"system": system, "code": code, "display": display[:200]}]}],
    }


def _documentation(cites: Sequence[str], guidelines: Mapping[str, Guideline]) -> list[dict[str, Any]]:
    out = []
    for cite in cites:
        g = guideline_for(cite, guidelines)
        item: dict[str, Any] = {"type": "citation", "label": cite}
        if g is not None:
            item["display"] = g.title
            if g.url:
                item["url"] = g.url
        out.append(item)
    return out


def _outcome(issues: Sequence[MappingIssue]) -> dict[str, Any]:
    codes = {"unknown-code": "code-invalid", "conflict": "business-rule", "invalid-resource": "structure"}
    return {
        "resourceType": "OperationOutcome",
        "id": "mapping",
        "issue": [
            {
                "severity": i.severity,
                "code": codes.get(i.code, "informational"),
                "details": {"text": i.code},
                "diagnostics": i.message,
                "expression": [i.source],
            }
            for i in issues
        ]
        or [{"severity": "information", "code": "informational", "diagnostics": "every resource was used"}],
    }


def guidance_response(
    decision: DecisionDocument,
    guidelines: Mapping[str, Guideline],
    *,
    sources: Mapping[str, str],
    issues: Sequence[MappingIssue],
    patient_ref: str | None,
) -> dict[str, Any]:
    """The decision document as a validated R4 GuidanceResponse (JSON-ready)."""
    rs = decision.ruleset
    actions = []
    for f in findings_of(decision):
        used = facts_used(decision, f.rule_id)
        refs = sorted({s for p, *_ in used for s in sources.get(p, "").split(", ") if s})
        lines = [f"{p} = {v}" + (f" ({sources[p]})" if p in sources else "") for p, v, r, _l in used if r == "true"]
        action: dict[str, Any] = {
            "id": f.rule_id,
            "title": f.text.strip()[:500],
            "description": "; ".join([*(f"because {line}" for line in lines), f"rule {f.rule_id} v{f.rule_version}"]),
            "documentation": _documentation(f.cites, guidelines),
            "code": [{"coding": [{"system": "https://painpath.org/fhir/CodeSystem/finding", "code": f.kind}]}],
        }
        if f.urgency:
            action["priority"] = _PRIORITY.get(f.urgency, "routine")
        if refs:
            action["resource"] = {"reference": refs[0]}
        actions.append(action)
    red_flags = decision.red_flags
    if decision.status != "ok":
        status = "failure"
    elif red_flags is not None and red_flags.status == "incomplete":
        status = "data-required"
    else:
        status = "success"
    contained: list[dict[str, Any]] = [_outcome(issues)]
    document: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "id": decision.decision_id,
        "identifier": [{"system": "urn:painpath:decision", "value": decision.decision_id}],
        "requestIdentifier": {"system": "urn:painpath:decision", "value": decision.decision_id},
        "moduleCanonical": f"{MODULE_BASE}{rs.name}|{rs.version}",
        "status": status,
        "occurrenceDateTime": decision.created_at,
        "evaluationMessage": [{"reference": "#mapping"}],
    }
    if status != "failure":
        group: dict[str, Any] = {
            "resourceType": "RequestGroup",
            "id": "advice",
            "status": "draft",
            "intent": "proposal",
            "instantiatesCanonical": [f"{MODULE_BASE}{rs.name}|{rs.version}"],
        }
        if actions:
            group["action"] = actions
        if patient_ref:
            group["subject"] = {"reference": patient_ref}
        contained.append(group)
        document["result"] = {"reference": "#advice"}
    if status == "data-required":
        # Every unanswered red-flag question, then the other missing facts, most important first.
        screen = list(red_flags.missing) if red_flags is not None else []
        others = [m.fact for m in decision.missing_information or () if m.fact not in screen]
        wanted = [p for p in [*screen, *others[:_OTHER_REQUIREMENTS_MAX]] if not p.startswith("derived.")]
        document["dataRequirement"] = [_requirement(p) for p in wanted]
    if patient_ref:
        document["subject"] = {"reference": patient_ref}
    # R4 GuidanceResponse.reasonReference may only point to these types (the rest are in the actions).
    used_refs = sorted({s for v in sources.values() for s in v.split(", ") if s.split("/")[0] in _REASON_TYPES})
    if used_refs:
        document["reasonReference"] = [{"reference": r} for r in used_refs]
    document["contained"] = contained
    document["note"] = [{"text": f"ruleset {rs.name} {rs.version} ({rs.content_hash})"}]
    GuidanceResponse.model_validate(document)
    return document
