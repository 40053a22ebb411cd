"""Verifying the CDS client's JWT (CDS Hooks 2.0.1, "Trusting CDS Clients").

When trusted issuers are configured (``PAINPATH_CDS_TRUSTED_ISSUERS``: a JSON file mapping each
issuer to its JWK Set), every service and feedback call must carry ``Authorization: Bearer <JWT>``
signed by a key of a trusted issuer (``kid`` in the header), with ``aud`` equal to the service's
URL, and ``iss``, ``exp``, ``iat`` and ``jti`` present. Tokens from unknown issuers, with unknown
keys, expired, replayed (same ``jti``) or for another audience are refused.

The service's URL is the configured ``PAINPATH_PUBLIC_URL`` and the route path (the caller passes
it in as ``audience``); nothing the request says about its own address is trusted. ``jti`` values
are claimed in the decision log (``store.replay``), so a replay is refused by every worker process
and after a restart.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

ALGORITHMS = ("ES384", "RS384")
"""The algorithms CDS Hooks names for the client's JWT."""
LEEWAY_SECONDS = 30
MAX_LIFETIME_SECONDS = 3600


class JwtRejected(Exception):
    """The JWT is missing or not acceptable; the message says why (never echoing the token)."""


@dataclass(frozen=True)
class TrustedIssuers:
    """Issuer -> {kid -> key}, read once at startup."""

    keys: Mapping[str, Mapping[str, Any]]

    @classmethod
    def from_file(cls, path: Path) -> TrustedIssuers:
        data = json.loads(path.read_text(encoding="utf-8"))
        issuers = data.get("issuers") if isinstance(data, dict) else None
        if not isinstance(issuers, dict) or not issuers:
            raise ValueError(f"{path}: expected {{'issuers': {{issuer: JWK Set}}}}")
        keys: dict[str, dict[str, Any]] = {}
        for issuer, jwks in issuers.items():
            found: dict[str, Any] = {}
            for jwk in (jwks or {}).get("keys", []):
                if "kid" not in jwk:
                    raise ValueError(f"{path}: a key of issuer {issuer} has no 'kid'")
                found[jwk["kid"]] = jwt.PyJWK(jwk).key
            if not found:
                raise ValueError(f"{path}: issuer {issuer} has no keys")
            keys[issuer] = found
        return cls(keys)


ClaimJti = Callable[[str, str, datetime.datetime], bool]
"""``claim(issuer, jti, expires_at)``: True the first time, False for a replay (``ReplayGuard.claim``)."""


class JwtVerifier:
    """Checks client JWTs against the trusted issuers; ``claim`` remembers ``jti`` values until they expire."""

    def __init__(self, issuers: TrustedIssuers, claim: ClaimJti) -> None:
        self.issuers = issuers
        self._claim = claim

    def verify(self, token: str | None, audience: str) -> str:
        """The verified issuer, or ``JwtRejected`` (``StoreUnavailable`` if the jti cannot be claimed)."""
        if not token:
            raise JwtRejected("a JWT signed by a trusted CDS client is required")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise JwtRejected("the bearer token is not a JWT") from None
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or issuer not in self.issuers.keys:
            raise JwtRejected("the JWT issuer is not trusted")
        key = self.issuers.keys[issuer].get(str(header.get("kid")))
        if key is None:
            raise JwtRejected("the JWT 'kid' names no key of its issuer")
        if header.get("alg") not in ALGORITHMS:
            raise JwtRejected(f"the JWT must be signed with {' or '.join(ALGORITHMS)}")
        try:
            verified = jwt.decode(
                token,
                key=key,
                algorithms=list(ALGORITHMS),
                audience=audience,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise JwtRejected("the JWT has expired") from None
        except jwt.InvalidAudienceError:
            raise JwtRejected("the JWT audience is not this service's URL") from None
        except jwt.PyJWTError as exc:
            raise JwtRejected(f"the JWT is not valid: {type(exc).__name__}") from None
        if float(verified["exp"]) - float(verified["iat"]) > MAX_LIFETIME_SECONDS:
            raise JwtRejected("the JWT lives too long")
        expires = datetime.datetime.fromtimestamp(float(verified["exp"]) + LEEWAY_SECONDS, datetime.UTC)
        if not self._claim(issuer, str(verified["jti"])[:256], expires):
            raise JwtRejected("the JWT 'jti' was already used")
        return issuer
