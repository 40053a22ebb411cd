"""``/v1/guidelines``: the source documents the rules cite."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from painpath.api import presenters
from painpath.api.deps import EngineDep, MayReadRules
from painpath.api.models import GuidelineDetail, GuidelineIndex
from painpath.api.openapi import AUTH_PROBLEMS, problems
from painpath.api.problems import ApiProblem
from painpath.errors import suggest

router = APIRouter(prefix="/v1/guidelines", tags=["guidelines"])


@router.get(
    "",
    response_model=GuidelineIndex,
    operation_id="listGuidelines",
    summary="List the guidelines",
    responses={**AUTH_PROBLEMS},
)
def list_guidelines(caller: MayReadRules, engine: EngineDep) -> dict[str, Any]:
    return presenters.guidelines_index(engine.ruleset)


@router.get(
    "/{guideline_id}",
    response_model=GuidelineDetail,
    operation_id="readGuideline",
    summary="One guideline, its sections and citing rules",
    responses={**AUTH_PROBLEMS, **problems(404, 422)},
)
def read_guideline(
    caller: MayReadRules,
    engine: EngineDep,
    guideline_id: Annotated[str, Path(description="e.g. `girft-ces-2023`.", max_length=128)],
) -> dict[str, Any]:
    guideline = engine.ruleset.guidelines.get(guideline_id)
    if guideline is None:
        near = suggest(guideline_id, engine.ruleset.guidelines)
        raise ApiProblem(
            404,
            "guideline-not-found",
            "Guideline not found",
            "no guideline has this id" + (f"; did you mean '{near}'?" if near else ""),
        )
    return presenters.guideline_detail(engine.ruleset, guideline)
