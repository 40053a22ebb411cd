"""CDS client JWTs (CDS Hooks "Trusting CDS Clients"), through the real server.

The trusted issuer's JWK Set and signing key are the specification's own examples (2.0.1 #23 and
#24, ES384); a second, freshly made key stands for an issuer painpath does not trust.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from painpath.store.testing import sqlite_url
from tests.api.conftest import Service, launch
from tests.api.test_cds_hooks import hook_request

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "cds-hooks"
ISSUER = "https://fhir-ehr.example.com/"
SERVICE = "painpath-referral-sign"
PUBLIC_URL = "https://cds.painpath.example.org/gateway"
"""PAINPATH_PUBLIC_URL of the test server: deliberately not the loopback address it listens on."""


def vector(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def issuers_file(data: Path) -> Path:
    issuers = data / "issuers.json"
    issuers.write_text(json.dumps({"issuers": {ISSUER: vector("v2.0.1-index-23")}}), encoding="utf-8")
    return issuers


def launch_jwt(data: Path, database_url: str) -> Service:
    return launch(
        data,
        database_url,
        PAINPATH_CDS_TRUSTED_ISSUERS=str(issuers_file(data)),
        PAINPATH_PUBLIC_URL=PUBLIC_URL,
        PAINPATH_WORKERS="0",
    )


@pytest.fixture(scope="module")
def jwt_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("cds-jwt")
    svc = launch_jwt(data, sqlite_url(data))
    yield svc
    svc.server.stop()


def token(svc: Service, *, issuer: str = ISSUER, key: Any = None, audience: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": issuer,
        "aud": audience or f"{PUBLIC_URL}/cds-services/{SERVICE}",
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    signing = key if key is not None else jwt.PyJWK(vector("v2.0.1-index-24")).key
    return jwt.encode(body, signing, algorithm="ES384", headers={"kid": "example-kid"})


def post(svc: Service, bearer: str | None, path: str = f"/cds-services/{SERVICE}", **headers: str) -> httpx.Response:
    if bearer:
        headers["authorization"] = f"Bearer {bearer}"
    with httpx.Client(base_url=svc.url, timeout=30) as client:
        return client.post(path, json=hook_request("order_sign_lumbar_mri"), headers=headers)


def test_a_jwt_from_a_trusted_issuer_is_accepted(jwt_service: Service) -> None:
    assert post(jwt_service, token(jwt_service)).status_code == 200


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no token", "required"),
        ("an API key", "not a JWT"),
        ("unknown issuer", "not trusted"),
        ("wrong audience", "audience"),
        ("expired", "expired"),
        ("another key", "not valid"),
    ],
)
def test_untrusted_tokens_are_refused_with_an_operation_outcome(jwt_service: Service, case: str, reason: str) -> None:
    stranger = ec.generate_private_key(ec.SECP384R1())
    bearer = {
        "no token": None,
        "an API key": jwt_service.tokens["clinician"],  # type: ignore[index]
        "unknown issuer": token(jwt_service, issuer="https://evil.example.org/", key=stranger),
        "wrong audience": token(jwt_service, audience="https://elsewhere.example.org/cds-services/x"),
        "expired": token(jwt_service, iat=int(time.time()) - 900, exp=int(time.time()) - 600),
        "another key": token(jwt_service, key=stranger),
    }[case]
    response = post(jwt_service, bearer)
    assert response.status_code == 401
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert reason in outcome["issue"][0]["diagnostics"]


def test_a_replayed_token_is_refused(jwt_service: Service) -> None:
    once = token(jwt_service)
    assert post(jwt_service, once).status_code == 200
    again = post(jwt_service, once)
    assert again.status_code == 401 and "already used" in again.json()["issue"][0]["diagnostics"]


def test_issue13_host_header_audience_refused(jwt_service: Service) -> None:
    """A token a trusted EHR minted for another CDS service is refused, whatever Host the request names."""
    other = "other-cds.example.net"
    for_other = token(jwt_service, audience=f"http://{other}/cds-services/{SERVICE}")
    response = post(jwt_service, for_other, host=other)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "audience" in response.json()["issue"][0]["diagnostics"]
    actual = jwt_service.url.removeprefix("http://")
    for_loopback = token(jwt_service, audience=f"{jwt_service.url}/cds-services/{SERVICE}")
    assert post(jwt_service, for_loopback, host=actual).status_code == 401  # the listening address is not it either
    assert post(jwt_service, token(jwt_service), host=other).status_code == 200  # the configured URL is


def test_issue13_replayed_token_after_restart_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = launch_jwt(data, sqlite_url(data))
    once = token(first)
    try:
        assert post(first, once).status_code == 200
    finally:
        first.server.stop()
    second = launch_jwt(data, sqlite_url(data))
    try:
        again = post(second, once)
        assert again.status_code == 401, again.text
        assert "already used" in again.json()["issue"][0]["diagnostics"]
    finally:
        second.server.stop()


def test_issue13_trusted_issuers_without_a_public_url_refuse_to_start(tmp_path: Path) -> None:
    from painpath.api.testing import ServerFailed

    with pytest.raises(ServerFailed) as failed:
        launch(tmp_path, sqlite_url(tmp_path), PAINPATH_CDS_TRUSTED_ISSUERS=str(issuers_file(tmp_path)))
    assert failed.value.returncode != 0 and "PAINPATH_PUBLIC_URL" in failed.value.stderr
