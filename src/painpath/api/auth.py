"""API keys, roles and permissions.

A token is ``ppk_<key id>.<secret>``: the key id finds the stored key, and the sha256 of the whole
token is compared with the stored digest in constant time. Only the digest is stored; the token is
shown once, when the key is created (``python -m painpath.cli.keys create``). Records and logs name
the caller by key id.

Missing or unusable credentials get 401 with ``WWW-Authenticate: Bearer``; a valid key whose role
lacks the permission gets 403.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from painpath.store import ApiKeyRecord, KeyStore

TOKEN_PREFIX = "ppk_"  # noqa: S105 - the public prefix of every token, not a secret
_TOKEN = re.compile(r"^ppk_(k[0-9a-f]{16})\.[A-Za-z0-9_-]{43}$")
_DUMMY_DIGEST = hashlib.sha256(b"painpath: no such key").hexdigest()


class Role(StrEnum):
    clinician = "clinician"
    triage = "triage"
    auditor = "auditor"
    admin = "admin"


class Permission(StrEnum):
    evaluate = "evaluate"
    read_decisions = "read_decisions"
    read_rules = "read_rules"
    audit = "audit"
    triage = "triage"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.clinician: frozenset({Permission.evaluate, Permission.read_rules}),
    Role.triage: frozenset({Permission.evaluate, Permission.read_decisions, Permission.read_rules, Permission.triage}),
    Role.auditor: frozenset({Permission.read_decisions, Permission.read_rules, Permission.audit}),
    Role.admin: frozenset(Permission),
}
"""Which role may do what. Rules and guidelines are readable by every role."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: a key id (never a patient identifier) and its role."""

    key_id: str
    role: Role

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]


DEV_CALLER = Caller(key_id="dev-mode", role=Role.admin)
"""The caller in development mode (no API keys; loopback only)."""


def token_digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(key_id, token)``."""
    key_id = "k" + secrets.token_hex(8)
    return key_id, f"{TOKEN_PREFIX}{key_id}.{secrets.token_urlsafe(32)}"


def create_key(keys: KeyStore, name: str, role: Role) -> tuple[ApiKeyRecord, str]:
    """Store a new key and return it with its token (the only time the token is available)."""
    key_id, token = new_token()
    record = ApiKeyRecord(
        key_id=key_id,
        name=name,
        role=role.value,
        token_sha256=token_digest(token),
        created_at=datetime.datetime.now(datetime.UTC),
    )
    keys.add(record)
    return record, token


def verify_token(keys: KeyStore, token: str) -> Caller | None:
    """The caller a token belongs to, or ``None`` if it is malformed, unknown, revoked or wrong."""
    match = _TOKEN.match(token)
    record = keys.get(match.group(1)) if match else None
    expected = record.token_sha256 if record is not None else _DUMMY_DIGEST
    # Compare even when there is no such key, so timing does not tell which key ids exist.
    ok = hmac.compare_digest(token_digest(token), expected)
    if record is None or not ok or not record.active or record.role not in Role.__members__:
        return None
    return Caller(key_id=record.key_id, role=Role(record.role))


class VerifiedKeys:
    """Tokens verified in the last ``ttl`` seconds (by digest), so a busy client costs no key lookup.

    Only successes are remembered; a revoked key stops working within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 5.0, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[Caller, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Caller | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[1] < time.monotonic():
                del self._entries[digest]
                return None
            return entry[0]

    def put(self, digest: str, caller: Caller) -> None:
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[digest] = (caller, time.monotonic() + self.ttl)
