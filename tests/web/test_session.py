"""Web sessions over HTTP (no browser): idle expiry, revoked keys, and the cookie's attributes."""

from __future__ import annotations

import contextlib
import datetime
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from painpath.api.auth import Role
from painpath.store import open_store
from painpath.store.testing import sqlite_url
from tests.api.conftest import Service, launch


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data: Path = tmp_path_factory.mktemp("web-session")
    svc = launch(data, sqlite_url(data), PAINPATH_WORKERS="0", PAINPATH_WEB_IDLE_SECONDS="2")
    yield svc
    svc.server.stop()


def signed_in(service: Service, role: Role) -> httpx.Client:
    client = httpx.Client(base_url=service.url, follow_redirects=False)
    page = client.get("/app/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post("/app/login", data={"csrf_token": token.group(1), "api_key": service.tokens[role]})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/app" in cookie
    assert "Secure" not in cookie  # plain http on loopback; set over https
    return client


def test_a_session_expires_when_idle(service: Service) -> None:
    with contextlib.closing(signed_in(service, Role.triage)) as client:
        assert client.get("/app/triage").status_code == 200
        time.sleep(1.0)
        assert client.get("/app/triage").status_code == 200  # a request keeps it alive
        time.sleep(2.5)
        expired = client.get("/app/triage")
        assert expired.status_code == 303 and expired.headers["location"].startswith("/app/login")
        htmx = client.get("/app/triage", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/app/login")


def test_revoking_the_key_ends_its_sessions(service: Service) -> None:
    with contextlib.closing(signed_in(service, Role.admin)) as client:
        assert client.get("/app/triage").status_code == 200
        store = open_store(service.database_url)
        try:
            assert store.keys.revoke(service.key_ids[Role.admin], datetime.datetime.now(datetime.UTC))
        finally:
            store.close()
        assert client.get("/app/triage").status_code == 303


def test_login_without_its_form_token_is_refused(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        response = client.post("/app/login", data={"api_key": service.tokens[Role.triage]})
        assert response.status_code == 403 and "pp_session" not in response.headers.get("set-cookie", "")
