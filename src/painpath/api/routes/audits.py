"""``/v1/audits``: audit a cohort in the background; read the job's state and download its results."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from painpath.api.deps import MayAudit, ServicesDep
from painpath.api.openapi import AUTH_PROBLEMS, problems
from painpath.api.problems import ApiProblem, field_problems
from painpath.audit.jobs import MEDIA_TYPES, RESULT_FILES, AuditLimits, AuditQueueFull, CohortTooLarge, InvalidCohort

UPLOAD_PATH = "/v1/audits"
router = APIRouter(prefix=UPLOAD_PATH, tags=["audits"])

JobId = Annotated[uuid.UUID, Path(description="The audit job id.")]


class RecordCounts(BaseModel):
    input: int
    evaluated: int
    rejected: int
    reconciled: bool = Field(description="evaluated + rejected == input")
    statement: str


class AuditJobOut(BaseModel):
    """An audit job: its state and, once it succeeded, the record counts and result files."""

    id: str
    status: str = Field(description="queued, running, succeeded, failed or interrupted (the service restarted).")
    format: str
    bytes: int
    created_at: str
    created_by: str = Field(description="The API key id that created the job.")
    started_at: str | None = None
    finished_at: str | None = None
    records: RecordCounts | None = None
    error: str | None = None
    files: dict[str, str] = Field(default_factory=dict, description="Result file name -> download URL.")


def _out(state: dict[str, Any]) -> AuditJobOut:
    job = AuditJobOut.model_validate(state)
    if job.status == "succeeded":
        job.files = {name: f"{UPLOAD_PATH}/{job.id}/files/{name}" for name in RESULT_FILES}
    return job


UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The cohort: JSON Lines of patient facts (`application/x-ndjson`), or CSV with one row per "
        "patient and one column per fact path (`text/csv`, see docs/audit.md). At most "
        "`PAINPATH_AUDIT_MAX_PATIENTS` records and `PAINPATH_AUDIT_MAX_BYTES` bytes.",
        "content": {media: {"schema": {"type": "string"}} for media in MEDIA_TYPES},
    }
}


@router.post(
    "",
    status_code=202,
    response_model=AuditJobOut,
    operation_id="createAudit",
    openapi_extra=UPLOAD_BODY,
    summary="Audit a cohort (background job)",
    description="Stores the cohort and queues an audit, run in a separate, lower-priority audit worker process. "
    "Returns 202 with the job; poll `Location` until `status` is `succeeded`, then download the results. "
    "A CSV cohort's header must name facts (422 otherwise, before the job is queued). At most "
    "`PAINPATH_AUDIT_QUEUE_PER_KEY` jobs per API key and `PAINPATH_AUDIT_QUEUE_TOTAL` in all may be queued or "
    "running: past that, 429 with `Retry-After`. Needs the `audit` permission (roles auditor, admin).",
    responses={
        202: {
            "description": "The job, queued.",
            "headers": {"Location": {"description": "The job's status URL.", "schema": {"type": "string"}}},
        },
        **AUTH_PROBLEMS,
        **problems(413, 415, 422, 429),
    },
)
async def create_audit(caller: MayAudit, request: Request, services: ServicesDep) -> JSONResponse:
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    fmt = MEDIA_TYPES.get(media)
    if fmt is None:
        raise ApiProblem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the cohort as application/x-ndjson (JSON Lines) or text/csv",
            headers={"Accept-Post": ", ".join(MEDIA_TYPES)},
        )
    settings = services.settings
    try:
        state = await services.audits.create(
            request.stream(),
            fmt,
            AuditLimits(settings.audit_max_patients, settings.audit_max_bytes),
            caller.key_id,
        )
    except CohortTooLarge as exc:
        raise ApiProblem(413, "cohort-too-large", "Cohort too large", exc.summary) from None
    except InvalidCohort as exc:
        raise ApiProblem(
            422, "invalid-cohort", "Invalid cohort", exc.summary, errors=field_problems(exc.problems)
        ) from None
    except AuditQueueFull as exc:
        raise ApiProblem(
            429,
            "audit-queue-full",
            "Too many audit jobs",
            f"{exc.summary}; retry after {exc.retry_after} s",
            # Close the connection rather than read and discard the upload the client is still sending.
            headers={"Retry-After": str(exc.retry_after), "Connection": "close"},
        ) from None
    job = _out(state)
    return JSONResponse(job.model_dump(), status_code=202, headers={"Location": f"{UPLOAD_PATH}/{job.id}"})


@router.get(
    "/{job_id}",
    response_model=AuditJobOut,
    operation_id="readAudit",
    summary="Read an audit job",
    description="The job's state; once it succeeded, its record counts and the URLs of its result files. Needs "
    "the `audit` permission.",
    responses={**AUTH_PROBLEMS, **problems(404, 422)},
)
def read_audit(caller: MayAudit, services: ServicesDep, job_id: JobId) -> AuditJobOut:
    state = services.audits.read(job_id.hex)
    if state is None:
        raise ApiProblem(404, "audit-not-found", "Audit not found", "no audit job with this id")
    return _out(state)


@router.get(
    "/{job_id}/files/{name}",
    operation_id="readAuditFile",
    summary="Download an audit result file",
    description="One result of a succeeded job: `report.html`, `summary.json`, the CSV tables or the FHIR "
    "MeasureReports. Needs the `audit` permission.",
    responses={200: {"description": "The file."}, **AUTH_PROBLEMS, **problems(404, 422)},
    response_class=FileResponse,
)
def read_audit_file(
    caller: MayAudit,
    services: ServicesDep,
    job_id: JobId,
    name: Annotated[str, Path(description="A result file name.", examples=["report.html"])],
) -> FileResponse:
    path = services.audits.result_file(job_id.hex, name)
    if path is None:
        raise ApiProblem(404, "audit-file-not-found", "File not found", "no such result file for a finished job")
    return FileResponse(path, media_type=RESULT_FILES[name])
