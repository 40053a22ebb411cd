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


def vector(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def jwt_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("cds-jwt")
    issuers = data / "issuers.json"
    issuers.write_text(json.dumps({"issuers": {ISSUER: vector("v2.0.1-index-23")}}), encoding="utf-8")
    svc = launch(data, sqlite_url(data), PAINPATH_CDS_TRUSTED_ISSUERS=str(issuers))
    yield svc
    svc.server.stop()


def token(svc: Service, *, issuer: str = ISSUER, key: Any = None, audience: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": issuer,
        "aud": audience or f"{svc.url}/cds-services/{SERVICE}",
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    signing = key if key is not None else jwt.PyJWK(vector("v2.0.1-index-24")).key
    return jwt.encode(body, signing, algorithm="ES384", headers={"kid": "example-kid"})


def post(svc: Service, bearer: str | None, path: str = f"/cds-services/{SERVICE}") -> httpx.Response:
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
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
