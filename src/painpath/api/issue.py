"""Issuing a decision: evaluate (``Evaluator``), then record, then answer, in that order.

A decision is returned to the caller only after it is committed to the decision log; if the log
cannot be written the request fails (503) and no decision is issued. The bytes returned are the
bytes stored, so ``GET /v1/evaluations/{id}`` serves exactly what ``POST`` issued.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from painpath.api.auth import Caller
from painpath.engine import Trace
from painpath.store import DecisionLog, DecisionRecord
from painpath.workers import Evaluator, Rejected

log = structlog.get_logger("painpath.api")


@dataclass(frozen=True)
class IssuedDecision:
    decision_id: str
    status: str
    body: bytes
    """The decision JSON (UTF-8) as stored."""


async def issue_decision(
    evaluator: Evaluator,
    decisions: DecisionLog,
    raw: bytes,
    caller: Caller,
    request_id: str,
    trace: Trace = "summary",
    *,
    received: bytes | None = None,
    extra: Mapping[str, Any] | None = None,
) -> IssuedDecision:
    """Evaluate the facts in ``raw`` (JSON) for ``caller`` and record the decision.

    ``received`` is what the client sent when it was not the facts themselves (a FHIR Bundle);
    it is recorded as the input. ``extra`` members (e.g. the FHIR mapping report) are added to
    the decision document before it is recorded, so what is read back is what was issued.

    Raises ``FactsValidationError`` (bad facts), ``StoreUnavailable`` (not recorded, so not issued)
    or ``EvaluationUnavailable`` (the evaluation worker died, or evaluation has stopped).
    """
    started = time.perf_counter()
    result = await evaluator.evaluate(raw, request_id, trace, extra)
    evaluated = time.perf_counter()
    if isinstance(result, Rejected):
        raise result.error()
    body = result.body
    record = DecisionRecord(
        decision_id=result.decision_id,
        created_at=result.created_at,
        caller_key_id=caller.key_id,
        status=result.status,
        engine_version=result.engine_version,
        ruleset_name=result.ruleset_name,
        ruleset_version=result.ruleset_version,
        ruleset_hash=result.ruleset_hash,
        parameters=result.parameters.decode("utf-8"),
        input_facts=(received if received is not None else raw).decode("utf-8"),
        output_json=body.decode("utf-8"),
        index=result.index,
        evaluated_facts=raw.decode("utf-8") if received is not None else None,
    )
    await asyncio.wrap_future(decisions.submit(record))  # group commit: see DecisionLog.submit
    recorded = time.perf_counter()
    log.info(
        "decision_issued",
        decision_id=result.decision_id,
        status=result.status,
        ruleset_hash=result.ruleset_hash[:12],
        caller=caller.key_id,
        compute_ms=result.compute_ms,
        evaluate_ms=round((evaluated - started) * 1e3, 3),
        record_ms=round((recorded - evaluated) * 1e3, 3),
        latency_ms=round((recorded - started) * 1e3, 3),
    )
    return IssuedDecision(decision_id=result.decision_id, status=result.status, body=body)
