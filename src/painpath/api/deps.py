"""Typed dependencies the routes declare: the services, the engine, and the authenticated caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from painpath.api.auth import DEV_CALLER, Caller, Permission, token_digest, verify_token
from painpath.api.problems import ApiProblem
from painpath.api.settings import is_loopback
from painpath.api.state import Services
from painpath.engine import Engine

_REALM = 'Bearer realm="painpath"'

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    bearerFormat="ppk_<key id>.<secret>",
    description="An API key created with `python -m painpath.cli.keys create --role ROLE`.",
)


async def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_engine(services: ServicesDep) -> Engine:
    return services.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def authenticate(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller behind the ``Authorization: Bearer`` token (401 when missing or not valid)."""
    if services.settings.dev_mode:
        server = request.scope.get("server") or ("", 0)
        client = request.scope.get("client") or ("", 0)
        if not (is_loopback(str(server[0])) and is_loopback(str(client[0]))):
            raise ApiProblem(
                403,
                "dev-mode-loopback-only",
                "Development mode serves loopback clients only",
                "this server runs without API keys and accepts requests from this machine only",
            )
        return DEV_CALLER
    if credentials is None:
        raise ApiProblem(
            401,
            "unauthenticated",
            "Authentication required",
            "send an API key as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": _REALM},
        )
    token = credentials.credentials
    digest = token_digest(token)
    caller = services.verified_keys.get(digest)
    if caller is None:
        caller = await run_in_threadpool(verify_token, services.store.keys, token)
        if caller is not None:
            services.verified_keys.put(digest, caller)
    if caller is None:
        raise ApiProblem(
            401,
            "invalid-credentials",
            "Invalid credentials",
            "the API key is malformed, unknown or revoked",
            headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
        )
    return caller


def require(permission: Permission) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that admits callers whose role has ``permission`` (403 otherwise)."""

    async def dependency(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if not caller.may(permission):
            raise ApiProblem(
                403,
                "forbidden",
                "Permission denied",
                f"the role '{caller.role}' does not have the permission '{permission}'",
            )
        return caller

    return dependency


MayEvaluate = Annotated[Caller, Depends(require(Permission.evaluate))]
MayReadDecisions = Annotated[Caller, Depends(require(Permission.read_decisions))]
MayReadRules = Annotated[Caller, Depends(require(Permission.read_rules))]
MayAudit = Annotated[Caller, Depends(require(Permission.audit))]


def only_query(*allowed: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency rejecting query parameters the route does not define (422): a misspelt option is
    an error, never silently ignored."""

    async def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", name),
                        "msg": f"unknown query parameter (this operation takes: {', '.join(allowed) or 'none'})",
                        "type": "extra_forbidden",
                    }
                    for name in unknown
                ]
            )

    return check
