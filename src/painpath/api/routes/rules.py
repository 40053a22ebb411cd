"""``/v1/rules``: the loaded rules, their conditions, citations and test vectors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from painpath.api import presenters
from painpath.api.deps import EngineDep, MayReadRules
from painpath.api.models import RuleDetail, RuleIndex
from painpath.api.openapi import AUTH_PROBLEMS, problems
from painpath.api.problems import ApiProblem
from painpath.errors import suggest

router = APIRouter(prefix="/v1/rules", tags=["rules"])


@router.get(
    "", response_model=RuleIndex, operation_id="listRules", summary="List the active rules", responses={**AUTH_PROBLEMS}
)
def list_rules(caller: MayReadRules, engine: EngineDep) -> dict[str, Any]:
    return presenters.rules_index(engine.ruleset)


@router.get(
    "/{rule_id}",
    response_model=RuleDetail,
    operation_id="readRule",
    summary="One rule: condition, citations, version, vectors",
    responses={**AUTH_PROBLEMS, **problems(404, 422)},
)
def read_rule(
    caller: MayReadRules,
    engine: EngineDep,
    rule_id: Annotated[str, Path(description="A rule id, e.g. `RF_CES_EMERGENCY`.", max_length=64)],
) -> dict[str, Any]:
    try:
        rule = engine.ruleset.rule(rule_id)
    except KeyError:
        near = suggest(rule_id, [r.id for r in engine.ruleset.rules])
        raise ApiProblem(
            404,
            "rule-not-found",
            "Rule not found",
            "no active rule has this id" + (f"; did you mean '{near}'?" if near else ""),
        ) from None
    return presenters.rule_detail(engine.ruleset, rule, engine.parameters)
