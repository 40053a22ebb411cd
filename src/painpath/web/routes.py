"""The web app's pages under ``/app``: sign-in, the GP referral form with live advice, the triage worklist.

Pages are rendered on the server; htmx only swaps server-rendered fragments (the advice panel, the
rule trace). Every page works by keyboard, and every form works without JavaScript too (the advice
then appears after pressing "Check advice").
"""

from __future__ import annotations

import datetime
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import orjson
import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from painpath.api.auth import Caller, Permission
from painpath.api.deps import authenticate, get_services
from painpath.api.issue import issue_decision
from painpath.api.openapi import AUTH_PROBLEMS, problems
from painpath.api.problems import ApiProblem
from painpath.api.routes.evaluations import decision_not_found
from painpath.api.state import Services
from painpath.engine import Decision
from painpath.errors import FactsValidationError
from painpath.facts import parse_facts
from painpath.store import DecisionRecord
from painpath.store.triage import URGENCY_RANKS, WorklistQuery
from painpath.triage.codes import load_codes
from painpath.triage.outcome import OutcomeChoice
from painpath.triage.service import (
    InvalidCursor,
    InvalidOutcome,
    UnknownDecision,
    advice_for,
    decode_cursor,
    encode_cursor,
    record_outcome,
)
from painpath.web.advice import AdviceView, advice_view, live_scores
from painpath.web.forms import build_topics, catalogue_questions, facts_from_form, item_questions
from painpath.web.letter import letter_context
from painpath.web.session import (
    COOKIE,
    LOGIN_COOKIE,
    WebSession,
    csrf_ok,
    current_session,
    set_cookie,
    sign_in,
    sign_out,
)
from painpath.web.templating import build_templates

router = APIRouter(prefix="/app", include_in_schema=False)
templates = build_templates()
log = structlog.get_logger("painpath.web")

QUESTIONS = catalogue_questions() + item_questions()
TOPICS = build_topics(QUESTIONS)
QUESTION_TEXT = {q.path: q.text for q in QUESTIONS}
SCORED_TOPICS = tuple(t.key for t in TOPICS if t.kind == "instrument")
PAGE_SIZE = 20
MAX_FORM_FIELDS = 2000

ServicesDep = Annotated[Services, Depends(get_services)]
DecisionId = Annotated[uuid.UUID, Path()]


class PageError(Exception):
    """Rendered as an error page (or, for a redirect, as a 303)."""

    def __init__(self, status: int, title: str, detail: str = "", location: str | None = None) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.location = location


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded body as ``{name: [values]}`` (no multipart: the forms never upload files)."""
    body = await request.body()
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "The form could not be read") from None
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def _first(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name, ())
    return values[0].strip() if values else ""


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page (or fragment) with the web app's security headers; patient data is never cached."""
    response: HTMLResponse = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


async def session_for(request: Request, services: Services, permission: Permission | None = None) -> WebSession:
    session = await current_session(services, request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise PageError(401, "Please sign in", location="/app/login?" + urlencode({"next": target}))
    if permission is not None and not session.caller.may(permission):
        raise PageError(
            403,
            "You do not have access to this page",
            f"Signed in as a {session.caller.role} user; this page needs the '{permission}' permission.",
        )
    return session


async def checked_form(request: Request, session: WebSession) -> dict[str, list[str]]:
    form = await read_form(request)
    if not csrf_ok(session.csrf_token, request, form):
        log.info("csrf_refused", route=request.url.path)
        raise PageError(403, "This form has expired", "Reload the page and try again (the security token was missing).")
    return form


def _safe_next(value: str) -> str:
    return value if value.startswith("/app/") and not value.startswith("//") and "\\" not in value else ""


def _home(session: WebSession) -> str:
    return "/app/triage" if session.caller.may(Permission.triage) else "/app/"


# -- signing in and out ----------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, services: ServicesDep, next: str = "") -> Response:
    session = await current_session(services, request)
    if session is not None:
        return RedirectResponse(_safe_next(next) or _home(session), status_code=303)
    return _login_form(request, next=_safe_next(next))


def _login_form(request: Request, *, next: str = "", error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", {"csrf_token": token, "next": next, "error": error, "session": None}, status
    )
    set_cookie(response, request, LOGIN_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> Response:
    form = await read_form(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not csrf_ok(expected, request, form):
        return _login_form(request, error="The sign-in form expired; please try again.", status=403)
    opened = await sign_in(services, _first(form, "api_key"))
    if opened is None:
        return _login_form(
            request, next=_safe_next(_first(form, "next")), error="That API key is not valid.", status=401
        )
    cookie, session = opened
    response = RedirectResponse(_safe_next(_first(form, "next")) or _home(session), status_code=303)
    set_cookie(response, request, COOKIE, cookie)
    response.delete_cookie(LOGIN_COOKIE, path="/app")
    log.info("web_signed_in", caller=session.caller.key_id)
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep) -> Response:
    session = await session_for(request, services)
    await checked_form(request, session)
    await sign_out(services, session)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(COOKIE, path="/app")
    return response


# -- the GP referral page ----------------------------------------------------------------------------------


@router.get("/")
async def referral_page(request: Request, services: ServicesDep) -> Response:
    session = await session_for(request, services, Permission.evaluate)
    return render(request, "referral.html", _referral_context(session, Advised(None, {}, {}, {}), {}))


@dataclass(frozen=True)
class Advised:
    """The advice for a filled-in form: the panel (``None`` when the facts are invalid), field
    errors, the facts document and the live score line of each instrument topic."""

    view: AdviceView | None
    errors: dict[str, str]
    facts: dict[str, Any]
    live: dict[str, str]


def _referral_context(session: WebSession, advised: Advised, values: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    return {
        "session": session,
        "topics": TOPICS,
        "values": values,
        "advice": advised.view,
        "errors": advised.errors,
        "live": advised.live,
        "oob_topics": (),
        "question_text": QUESTION_TEXT,
    }


def _error_location(location: str) -> str:
    """A facts-model problem's location as the form's field path (``instruments.phq9.items`` -> the topic)."""
    return location.replace("/", ".").strip(".") or "form"


async def _advise(services: Services, form: Mapping[str, Sequence[str]]) -> Advised:
    parsed = facts_from_form(QUESTIONS, form)
    errors = dict(parsed.errors)
    try:
        facts = parse_facts(parsed.facts)
    except FactsValidationError as exc:
        errors.update({_error_location(p.location): p.message for p in exc.problems})
        return Advised(None, errors, parsed.facts, live_scores(None, None, parsed.items_answered, SCORED_TOPICS))
    decision: Decision = await run_in_threadpool(services.engine.evaluate, facts)
    view = advice_view(decision)
    return Advised(view, errors, parsed.facts, live_scores(view, decision, parsed.items_answered, SCORED_TOPICS))


@router.post("/advice")
async def advice(request: Request, services: ServicesDep) -> Response:
    """The advice panel for the form as it stands (not recorded: a draft), with each instrument's
    live score line swapped in out of band."""
    session = await session_for(request, services, Permission.evaluate)
    form = await checked_form(request, session)
    advised = await _advise(services, form)
    context = {
        "advice": advised.view,
        "errors": advised.errors,
        "question_text": QUESTION_TEXT,
        "live": advised.live,
        "oob_topics": SCORED_TOPICS,
    }
    return render(request, "_advice.html", context)


@router.post("/referrals")
async def submit_referral(request: Request, services: ServicesDep) -> Response:
    """Record the decision for the completed form (the referral is sent to triage)."""
    session = await session_for(request, services, Permission.evaluate)
    form = await checked_form(request, session)
    advised = await _advise(services, form)
    if advised.view is None or advised.errors or _first(form, "action") == "check":
        status = 422 if advised.errors else 200
        return render(request, "referral.html", _referral_context(session, advised, form), status)
    request_id = str(structlog.contextvars.get_contextvars().get("request_id", ""))
    issued = await issue_decision(
        services.evaluator, services.store.decisions, orjson.dumps(advised.facts), session.caller, request_id
    )
    context = {"session": session, "decision_id": issued.decision_id, "advice": advised.view}
    return render(request, "referral_sent.html", context)


# -- the referral letter ----------------------------------------------------------------------------------


def may_read_letter(caller: Caller, record: DecisionRecord | None) -> bool:
    """A referral letter is for roles that may read decisions, and for the key that sent the referral."""
    mine = record is not None and record.caller_key_id == caller.key_id
    return caller.may(Permission.read_decisions) or (mine and caller.may(Permission.evaluate))


@router.get("/referral/{decision_id}/letter")
async def referral_letter(request: Request, services: ServicesDep, decision_id: DecisionId) -> Response:
    """A printable referral summary of a recorded decision: for those who may read decisions
    (``read_decisions``, as ``GET /v1/evaluations/{id}``), and for the key that sent it."""
    session = await session_for(request, services)
    record = await run_in_threadpool(services.store.decisions.get, str(decision_id))
    if not may_read_letter(session.caller, record):
        raise PageError(
            403,
            "You do not have access to this page",
            "A referral letter is shown to the key that sent the referral and to roles that may read decisions.",
        )
    if record is None:
        raise PageError(404, "Referral not found", "No decision with this id was recorded.")
    return render(request, "letter.html", {"session": session, **letter_context(record)})


api_router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])
"""The letter over the API (an API key, not a web session), served with the web app's templates."""


@api_router.get(
    "/{decision_id}/letter",
    operation_id="readEvaluationLetter",
    summary="A printable referral summary of a stored decision (HTML)",
    description="The referral summary the web app prints: the answers as question and answer, scores with "
    "their bands, the red-flag status, the advice with rule versions and citations, the ruleset version and "
    "the decision id; read from the decision log, never re-evaluated. Needs the `read_decisions` permission "
    "(roles triage, auditor, admin), or the `evaluate` permission for the key that sent the decision.",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The referral summary as an HTML page (with a print stylesheet).",
            "content": {"text/html": {}},
        },
        **AUTH_PROBLEMS,
        **problems(404, 422, 503),
    },
)
async def referral_letter_api(
    request: Request,
    services: ServicesDep,
    caller: Annotated[Caller, Depends(authenticate)],
    decision_id: Annotated[uuid.UUID, Path(description="The decision id (a UUID).")],
) -> Response:
    record = await run_in_threadpool(services.store.decisions.get, str(decision_id))
    if not may_read_letter(caller, record):
        raise ApiProblem(
            403,
            "forbidden",
            "Permission denied",
            "a referral letter is for the key that sent the decision and for roles with 'read_decisions'",
        )
    if record is None:
        decision_not_found(services, str(decision_id))  # 404, or 410 for a pruned decision
    return render(request, "letter.html", {"session": None, **letter_context(record)})


# -- the triage worklist --------------------------------------------------------------------------------------

FILTERS: dict[str, tuple[tuple[str, str], ...]] = {
    "urgency": tuple((u, u.capitalize()) for u in URGENCY_RANKS),
    "pmp_status": tuple(
        (s, s.replace("_", " ").capitalize())
        for s in ("recommended", "not_yet", "not_suitable", "not_indicated", "undetermined")
    ),
    "red_flags": (("present", "Present"), ("absent", "Absent"), ("incomplete", "Incomplete")),
    "state": (("new", "New"), *load_codes().outcomes.items()),
}
SORTS = (("newest", "Newest first"), ("oldest", "Oldest first"), ("urgency", "Most urgent first"))


def _date(value: str) -> datetime.datetime | None:
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


@router.get("/triage")
async def worklist(request: Request, services: ServicesDep) -> Response:
    session = await session_for(request, services, Permission.triage)
    params = request.query_params
    chosen = {name: [v for v in params.getlist(name) if v in dict(options)] for name, options in FILTERS.items()}
    sort = params.get("sort", "newest")
    sort = sort if sort in dict(SORTS) else "newest"
    since_text = params.get("since", "")
    since = _date(since_text) if since_text else None
    cursor = params.get("cursor", "")
    try:
        after = decode_cursor(cursor, sort) if cursor else None  # type: ignore[arg-type]
    except InvalidCursor:
        after = None
    query = WorklistQuery(
        urgency=tuple(chosen["urgency"]),
        pmp_status=tuple(chosen["pmp_status"]),
        red_flag_status=tuple(chosen["red_flags"]),
        state=tuple(chosen["state"]),
        since=since,
        sort=sort,  # type: ignore[arg-type]
        limit=PAGE_SIZE,
        after=after,
    )
    page = await run_in_threadpool(services.store.triage.worklist, query)
    base = [(k, v) for k, values in chosen.items() for v in values] + [("sort", sort)]
    if since is not None:
        base.append(("since", since_text))
    next_url = (
        "/app/triage?" + urlencode([*base, ("cursor", encode_cursor(sort, page.next_key))])  # type: ignore[arg-type]
        if page.next_key is not None
        else None
    )
    context = {
        "session": session,
        "rows": page.rows,
        "filters": FILTERS,
        "chosen": chosen,
        "sorts": SORTS,
        "sort": sort,
        "since": since_text if since is not None else "",
        "next_url": next_url,
        "first_url": "/app/triage?" + urlencode(base) if cursor else None,
        "codes": load_codes(),
        "now": datetime.datetime.now(datetime.UTC),
    }
    return render(request, "triage.html", context)


async def _detail_context(services: Services, session: WebSession, decision_id: str) -> dict[str, Any]:
    row = await run_in_threadpool(services.store.triage.row, decision_id)
    stored = await run_in_threadpool(services.store.decisions.output, decision_id)
    rule = await run_in_threadpool(advice_for, services.store, decision_id)
    if row is None or stored is None or rule is None:
        raise PageError(404, "Referral not found", "No decision with this id was recorded.")
    history = await run_in_threadpool(services.store.triage.history, decision_id)
    return {
        "session": session,
        "row": row,
        "doc": orjson.loads(stored),
        "advice": rule,
        "history": history,
        "codes": load_codes(),
        "values": {},
        "errors": {},
        "question_text": QUESTION_TEXT,
    }


@router.get("/triage/{decision_id}")
async def referral_detail(request: Request, services: ServicesDep, decision_id: DecisionId) -> Response:
    session = await session_for(request, services, Permission.triage)
    return render(request, "triage_detail.html", await _detail_context(services, session, str(decision_id)))


@router.get("/triage/{decision_id}/trace")
async def referral_trace(request: Request, services: ServicesDep, decision_id: DecisionId) -> Response:
    session = await session_for(request, services, Permission.triage)
    context = await _detail_context(services, session, str(decision_id))
    partial = request.headers.get("hx-request") == "true"
    return render(request, "_trace.html" if partial else "trace.html", context)


@router.post("/triage/{decision_id}/outcome")
async def record_triage(request: Request, services: ServicesDep, decision_id: DecisionId) -> Response:
    session = await session_for(request, services, Permission.triage)
    form = await checked_form(request, session)
    choice = OutcomeChoice(
        outcome=_first(form, "outcome"),
        service=_first(form, "service") or None,
        setting=_first(form, "setting") or None,
        redirected_to=_first(form, "redirected_to") or None,
        returned_reason=_first(form, "returned_reason") or None,
        reason=_first(form, "reason") or None,
    )
    # Only the fields of the chosen outcome count: the form shows all of them.
    required = load_codes().requires.get(choice.outcome, ())
    choice = OutcomeChoice(
        outcome=choice.outcome,
        reason=choice.reason,
        **{f: choice.value(f) for f in required},
    )
    try:
        await run_in_threadpool(record_outcome, services.store, str(decision_id), choice, session.caller.key_id)
    except UnknownDecision:
        raise PageError(404, "Referral not found", "No decision with this id was recorded.") from None
    except InvalidOutcome as exc:
        context = await _detail_context(services, session, str(decision_id))
        context["values"] = {k: _first(form, k) for k in form}
        context["errors"] = {p.location: p.message for p in exc.problems}
        return render(request, "triage_detail.html", context, 422)
    return RedirectResponse(f"/app/triage/{decision_id}?recorded=1", status_code=303)


def install_page_errors(app: Any) -> None:
    """Render ``PageError`` as a page (or a redirect to sign in; htmx gets ``HX-Redirect``)."""

    async def handler(request: Request, exc: PageError) -> Response:
        if exc.location is not None:
            if request.headers.get("hx-request") == "true":
                return Response(status_code=401, headers={"HX-Redirect": exc.location})
            return RedirectResponse(exc.location, status_code=303)
        session = await current_session(request.app.state.services, request) if exc.status != 401 else None
        context = {"session": session, "title": exc.title, "detail": exc.detail, "status": exc.status}
        return render(request, "error.html", context, exc.status)

    app.add_exception_handler(PageError, handler)
