"""Issue 12: a decision is small on the wire. JSON responses are compressed (zstd, else gzip) as the
client's Accept-Encoding allows; HTML pages and small or streamed responses are not."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
import zstandard

from painpath.api.auth import Role
from painpath.api.examples import CAUDA_EQUINA_FACTS
from tests.api.conftest import Service

BODY = json.dumps(CAUDA_EQUINA_FACTS).encode()


def _post(service: Service, accept_encoding: str, query: str = "") -> httpx.Response:
    with service.client(Role.clinician) as client:
        response = client.post(
            "/v1/evaluations" + query,
            content=BODY,
            headers={"content-type": "application/json", "accept-encoding": accept_encoding},
        )
    assert response.status_code == 201, response.text
    return response


def _wire(
    service: Service,
    path: str,
    accept_encoding: str,
    *,
    content: bytes | None = None,
    role: Role = Role.clinician,
) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (not decoded by the client): a POST of ``content``, else a GET."""
    method = "GET" if content is None else "POST"
    headers = {"accept-encoding": accept_encoding, "content-type": "application/json"}
    with (
        service.client(role) as client,
        client.stream(method, path, headers=headers, content=content) as response,
    ):
        raw = b"".join(response.iter_raw())
    return response, raw


def _decompress(raw: bytes) -> bytes:
    out: bytes = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    return out


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip", "gzip"),
        ("zstd;q=0, gzip;q=0.5", "gzip"),
        ("*", "zstd"),
        ("identity", None),
        ("gzip;q=0, zstd;q=0, *;q=0", None),
    ],
)
def test_issue12_a_decision_is_compressed_as_the_client_accepts(
    service: Service, accept: str, coding: str | None
) -> None:
    plain = _post(service, "identity")
    response, raw = _wire(service, "/v1/evaluations", accept, content=BODY)
    assert response.status_code == 201
    assert response.headers.get("content-encoding") == coding
    assert response.headers["content-length"] == str(len(raw))
    if coding is None:
        body = raw
    else:
        assert "accept-encoding" in response.headers["vary"].lower()
        body = (
            zstandard.ZstdDecompressor().decompressobj().decompress(raw) if coding == "zstd" else gzip.decompress(raw)
        )
        assert len(raw) < len(body) / 3, (len(raw), len(body))
    decision = json.loads(body)
    expected = plain.json()
    for key in ("decision_id", "created_at"):
        decision.pop(key)
        expected.pop(key)
    assert decision == expected


def test_issue12_the_decision_log_and_a_second_read_keep_the_uncompressed_bytes(service: Service) -> None:
    created = _post(service, "gzip")
    assert created.headers["content-encoding"] == "gzip"
    location = created.headers["location"]
    again, raw = _wire(service, location, "identity", role=Role.triage)
    assert again.status_code == 200 and "content-encoding" not in again.headers
    assert raw == created.content  # what was issued, decoded, is what the log serves again
    trace, raw_trace = _wire(service, location + "/trace", "zstd", role=Role.triage)
    assert trace.headers["content-encoding"] == "zstd"
    assert json.loads(_decompress(raw_trace))["trace"] == "full"


def test_issue12_pages_and_small_answers_are_not_compressed(service: Service) -> None:
    page, raw = _wire(service, "/app/login", "gzip, zstd")  # a form, with its CSRF token
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "content-encoding" not in page.headers  # pages carry CSRF tokens: no compression (BREACH)
    assert raw.lstrip().lower().startswith(b"<!doctype html") and len(raw) > 1024  # large enough to compress
    health, raw = _wire(service, "/healthz", "gzip, zstd")
    assert "content-encoding" not in health.headers and json.loads(raw) == {"status": "ok"}
