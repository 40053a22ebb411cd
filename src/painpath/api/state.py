"""What the running service holds: its settings, the loaded engine and the open store."""

from __future__ import annotations

from dataclasses import dataclass, field

from painpath.api.auth import VerifiedKeys
from painpath.api.settings import Settings
from painpath.audit.jobs import AuditJobs
from painpath.cds.jwt_auth import JwtVerifier
from painpath.engine import Engine
from painpath.store import Store
from painpath.workers import Evaluator


@dataclass(frozen=True)
class Services:
    """Built once by ``create_app``; handed to routes through ``deps``."""

    settings: Settings
    engine: Engine
    store: Store
    evaluator: Evaluator
    audits: AuditJobs
    verified_keys: VerifiedKeys = field(default_factory=VerifiedKeys)
    cds_jwt: JwtVerifier | None = None
    """Set when CDS client issuers are configured: CDS Hooks calls then need a valid JWT."""
