"""Signing in to the web app: an API key, checked once, exchanged for a server-side session.

The session cookie is random (256 bits), HttpOnly, SameSite=Strict, Secure when the request came
over https, and scoped to ``/app``; only its sha256 is stored. Each session has a CSRF token that
every POST must carry (form field ``csrf_token`` or header ``X-CSRF-Token``). A session ends on
sign-out, after ``PAINPATH_WEB_IDLE_SECONDS`` without a request (default 30 minutes), or when its
API key is revoked.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from painpath.api.auth import Caller, Role, verify_token
from painpath.api.state import Services
from painpath.store.sessions import SessionRecord

COOKIE = "pp_session"
LOGIN_COOKIE = "pp_login_csrf"
COOKIE_PATH = "/app"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
DEFAULT_IDLE_SECONDS = 1800


def idle_seconds() -> float:
    """The idle expiry (``PAINPATH_WEB_IDLE_SECONDS``)."""
    try:
        return max(1.0, float(os.environ.get("PAINPATH_WEB_IDLE_SECONDS", DEFAULT_IDLE_SECONDS)))
    except ValueError:
        return DEFAULT_IDLE_SECONDS


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: who (the key's caller) and the token its forms must carry."""

    caller: Caller
    csrf_token: str
    digest: str


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


async def sign_in(services: Services, token: str) -> tuple[str, WebSession] | None:
    """Check an API key and open a session: ``(cookie value, session)``, or ``None`` if the key is not valid."""
    caller = await run_in_threadpool(verify_token, services.store.keys, token.strip())
    if caller is None:
        return None
    cookie = secrets.token_urlsafe(32)
    now = _now()
    record = SessionRecord(_digest(cookie), caller.key_id, secrets.token_urlsafe(32), now, now)
    await run_in_threadpool(services.store.sessions.add, record)
    return cookie, WebSession(caller, record.csrf_token, record.session_sha256)


async def current_session(services: Services, request: Request) -> WebSession | None:
    """The session of this request, or ``None`` (no cookie, unknown, idle too long, key revoked)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    digest = _digest(cookie)
    sessions = services.store.sessions
    record = await run_in_threadpool(sessions.get, digest)
    if record is None:
        return None
    now = _now()
    if now - record.last_seen_at > datetime.timedelta(seconds=idle_seconds()):
        await run_in_threadpool(sessions.remove, digest)
        return None
    key = await run_in_threadpool(services.store.keys.get, record.key_id)
    if key is None or not key.active or key.role not in Role.__members__:
        await run_in_threadpool(sessions.remove, digest)
        return None
    await run_in_threadpool(sessions.touch, digest, now)
    return WebSession(Caller(key_id=key.key_id, role=Role(key.role)), record.csrf_token, digest)


async def sign_out(services: Services, session: WebSession) -> None:
    await run_in_threadpool(services.store.sessions.remove, session.digest)


def csrf_ok(expected: str, request: Request, form: Mapping[str, Sequence[str]]) -> bool:
    """Whether the request carries ``expected`` as its CSRF token (form field or header)."""
    sent = request.headers.get(CSRF_HEADER) or next(iter(form.get(CSRF_FIELD, ())), "")
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())
