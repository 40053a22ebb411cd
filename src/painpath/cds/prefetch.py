"""Gathering the FHIR data a hook call needs: from ``prefetch``, else from ``fhirServer``.

A prefetch key that is present with ``null`` means the client ran the query and found nothing; a
key that is absent means it did not (or could not) run it, so painpath fetches it from
``fhirServer`` with the given ``fhirAuthorization``. Required data that can be had neither way
raises ``DataUnavailable`` (answered 412 with an OperationOutcome, as CDS Hooks specifies).
Optional data that cannot be had is reported, never silently treated as "none".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from painpath.cds.models import HookRequest
from painpath.cds.services import Catalogue, InvalidToken, ServiceSpec
from painpath.fhir import MappingIssue

FETCH_TIMEOUT_SECONDS = 5.0
MAX_PAGES = 10
FHIR_JSON = "application/fhir+json"


class DataUnavailable(Exception):
    """Required data was neither prefetched nor fetchable."""

    def __init__(self, key: str, diagnostics: str, expression: str) -> None:
        super().__init__(diagnostics)
        self.key = key
        self.diagnostics = diagnostics
        self.expression = expression


class InvalidPrefetch(Exception):
    """A prefetched value is not a FHIR resource or Bundle painpath can read (answered 400)."""

    def __init__(self, key: str, diagnostics: str, expression: str) -> None:
        super().__init__(diagnostics)
        self.key = key
        self.diagnostics = diagnostics
        self.expression = expression


@dataclass(frozen=True)
class Gathered:
    resources: tuple[Mapping[str, Any], ...]
    notes: tuple[MappingIssue, ...]


def _resources(value: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The resources of a prefetched or fetched value; ``ValueError`` when it is not a readable shape."""
    if value is None:
        return []
    if value.get("resourceType") == "Bundle":
        entries = value.get("entry")
        if entries is None:
            return []
        if not isinstance(entries, list):
            raise ValueError("Bundle.entry must be an array")
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise ValueError(f"Bundle.entry[{i}] must be an object")
        return [e["resource"] for e in entries if "resource" in e]
    return [value]


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


async def _pages(
    client: httpx.AsyncClient, base: str, url: str | None, *, read: bool = False
) -> list[Mapping[str, Any]]:
    """The resources at ``url`` and the searchset pages after it (up to ``MAX_PAGES``).

    Only URLs on the client's ``fhirServer`` are followed: its access token goes nowhere else.
    """
    found: list[Mapping[str, Any]] = []
    for _page in range(MAX_PAGES):
        if url is None:
            break
        if not url.startswith(base.rstrip("/") + "/"):
            raise ValueError("a page link outside fhirServer is not followed")
        response = await client.get(url)
        if response.status_code == 404 and read:
            return found  # a read of a resource that does not exist: no data
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, Mapping):
            raise ValueError("the FHIR server did not return a JSON object")
        found.extend(_resources(body))
        url = _next_link(body) if body.get("resourceType") == "Bundle" else None
    return found


async def _fetch(client: httpx.AsyncClient, base: str, query: str) -> list[Mapping[str, Any]]:
    return await _pages(client, base, f"{base.rstrip('/')}/{query}", read="?" not in query)


async def gather(request: HookRequest, service: ServiceSpec, catalogue: Catalogue) -> Gathered:
    """The resources for ``service``'s prefetch keys, from the request or the client's FHIR server."""
    given = request.prefetch or {}
    resources: list[Mapping[str, Any]] = []
    notes: list[MappingIssue] = []
    to_fetch: dict[str, str] = {}
    more_pages: dict[str, str] = {}
    for key in service.prefetch:
        if key in given:
            value = given[key]
            try:
                resources.extend(_resources(value))
            except ValueError as exc:
                raise InvalidPrefetch(key, f"prefetch '{key}': {exc}", f"prefetch.{key}") from None
            following = _next_link(value) if value is not None and value.get("resourceType") == "Bundle" else None
            if following is not None and request.fhirServer:
                more_pages[key] = following
            elif following is not None:
                notes.append(
                    MappingIssue(
                        "warning",
                        "not-used",
                        f"prefetch.{key}",
                        f"'{key}' has more pages and no fhirServer was given: only the first page was used",
                    )
                )
            continue
        try:
            query = catalogue.query(key, request.context)
        except KeyError as exc:
            raise DataUnavailable(key, f"context.{exc.args[0]} is needed for prefetch '{key}'", "context") from None
        except InvalidToken as exc:
            raise InvalidPrefetch(key, str(exc), f"context.{exc.name}") from None
        if request.fhirServer:
            to_fetch[key] = query
        elif catalogue.required(key):
            raise DataUnavailable(
                key,
                f"CDS Hooks prefetch key '{key}' was absent and no fhirServer was given to fetch it",
                f"prefetch.{key}",
            )
        else:
            notes.append(
                MappingIssue(
                    "warning", "not-used", f"prefetch.{key}", f"'{key}' was not prefetched nor fetchable: unknown"
                )
            )
    if to_fetch or more_pages:
        headers = {"Accept": FHIR_JSON}
        if request.fhirAuthorization is not None:
            headers["Authorization"] = f"Bearer {request.fhirAuthorization.access_token}"
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, headers=headers) as client:
            results = await asyncio.gather(
                *(_fetch(client, str(request.fhirServer), q) for q in to_fetch.values()),
                *(_pages(client, str(request.fhirServer), url) for url in more_pages.values()),
                return_exceptions=True,
            )
        for key, result in zip([*to_fetch, *more_pages], results, strict=True):
            if isinstance(result, BaseException):
                if catalogue.required(key):
                    raise DataUnavailable(
                        key, f"fetching '{key}' from fhirServer failed ({type(result).__name__})", f"prefetch.{key}"
                    )
                notes.append(
                    MappingIssue("warning", "not-used", f"prefetch.{key}", f"fetching '{key}' failed: unknown")
                )
                continue
            resources.extend(result)
    return Gathered(tuple(resources), tuple(notes))
