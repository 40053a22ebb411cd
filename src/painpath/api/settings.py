"""Service settings, read from the environment (``PAINPATH_*``) once at startup.

=========================  ===========================================  ==========================
Variable                   Meaning                                      Default
=========================  ===========================================  ==========================
PAINPATH_PUBLIC_URL        this service's public base URL (scheme,      none; required when
                           host, port, path prefix) as CDS clients      PAINPATH_CDS_TRUSTED_ISSUERS
                           reach it: the only accepted JWT audience     is set
PAINPATH_HOST              address to bind                              127.0.0.1
PAINPATH_PORT              port to bind (0: any free port)              8000
PAINPATH_DATA_DIR          where the embedded SQLite database lives     ./data
PAINPATH_DATABASE_URL      SQLAlchemy URL (``postgresql://...``)        SQLite file in the data dir
PAINPATH_RULES_DIR         rules directory                              the repository's rules/
PAINPATH_SITE_CONFIG       site configuration (parameter overrides)     none
PAINPATH_MAX_BODY_BYTES    largest accepted request body                1048576 (1 MiB)
PAINPATH_FHIR_MAX_BODY_BYTES  largest ``application/fhir+json`` body    16777216 (16 MiB)
                           (a Bundle or QuestionnaireResponse)
PAINPATH_WORKERS           evaluation worker processes (0: in-process)  CPU count (0 on one CPU)
PAINPATH_DEV_MODE          1: no API keys (loopback binding only)       0
PAINPATH_LOG_LEVEL         structured log level                         INFO
PAINPATH_AUDIT_MAX_PATIENTS  most records in one ``POST /v1/audits``     10000
PAINPATH_AUDIT_MAX_BYTES   largest cohort upload (``POST /v1/audits``)  67108864 (64 MiB)
PAINPATH_CDS_TRUSTED_ISSUERS  JSON file: CDS client issuer -> JWK Set;  none (API keys instead)
                           when set, CDS Hooks calls need a valid JWT
PAINPATH_CDS_CARE_SETTING  care setting of the CDS client's users       none (unknown)
                           (e.g. primary_care), for requested imaging
PAINPATH_FHIR_MAX_AGE_DAYS age beyond which FHIR observations are       the code tables' default
                           reported as stale and not used
PAINPATH_AUDIT_QUEUE_PER_KEY  audit jobs one API key may have queued    4
                           or running (more: 429)
PAINPATH_AUDIT_QUEUE_TOTAL audit jobs queued or running in all          16
PAINPATH_AUDIT_WORKERS     audit worker processes (niced, outside the   1
                           request path)
PAINPATH_DB_BUSY_TIMEOUT_MS  how long a request waits for a locked or   2000
                           stalled database before answering 503
=========================  ===========================================  ==========================
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from painpath.errors import PainpathError, Problem
from painpath.facts.care import CareSetting
from painpath.paths import default_rules_dir
from painpath.store import default_database_url

_ENV = {
    "host": "PAINPATH_HOST",
    "port": "PAINPATH_PORT",
    "data_dir": "PAINPATH_DATA_DIR",
    "database_url": "PAINPATH_DATABASE_URL",
    "rules_dir": "PAINPATH_RULES_DIR",
    "site_config": "PAINPATH_SITE_CONFIG",
    "max_body_bytes": "PAINPATH_MAX_BODY_BYTES",
    "fhir_max_body_bytes": "PAINPATH_FHIR_MAX_BODY_BYTES",
    "workers": "PAINPATH_WORKERS",
    "dev_mode": "PAINPATH_DEV_MODE",
    "log_level": "PAINPATH_LOG_LEVEL",
    "audit_max_patients": "PAINPATH_AUDIT_MAX_PATIENTS",
    "audit_max_bytes": "PAINPATH_AUDIT_MAX_BYTES",
    "cds_trusted_issuers": "PAINPATH_CDS_TRUSTED_ISSUERS",
    "cds_care_setting": "PAINPATH_CDS_CARE_SETTING",
    "fhir_max_age_days": "PAINPATH_FHIR_MAX_AGE_DAYS",
    "public_url": "PAINPATH_PUBLIC_URL",
    "audit_queue_per_key": "PAINPATH_AUDIT_QUEUE_PER_KEY",
    "audit_queue_total": "PAINPATH_AUDIT_QUEUE_TOTAL",
    "audit_workers": "PAINPATH_AUDIT_WORKERS",
    "db_busy_timeout_ms": "PAINPATH_DB_BUSY_TIMEOUT_MS",
}


class ServiceConfigError(PainpathError):
    """The service settings are invalid or unsafe; the service does not start."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseModel):
    """Everything the service needs to start; immutable once read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("data")
    database_url: str | None = None
    rules_dir: Path = Field(default_factory=default_rules_dir)
    site_config: Path | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    fhir_max_body_bytes: int = Field(default=16 * 1_048_576, ge=1024)
    workers: int | None = Field(default=None, ge=0, le=64)
    dev_mode: bool = False
    log_level: str = Field(default="INFO", pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    audit_max_patients: int = Field(default=10_000, ge=1)
    audit_max_bytes: int = Field(default=64 * 1_048_576, ge=1024)
    cds_trusted_issuers: Path | None = None
    cds_care_setting: CareSetting | None = None
    fhir_max_age_days: int | None = Field(default=None, ge=1, le=36500)
    public_url: str | None = None
    """The service's public base URL; a CDS client JWT's ``aud`` must be this plus the route path."""
    audit_queue_per_key: int = Field(default=4, ge=1, le=1000)
    audit_queue_total: int = Field(default=16, ge=1, le=10_000)
    audit_workers: int = Field(default=1, ge=1, le=64)
    db_busy_timeout_ms: int = Field(default=2000, ge=50, le=60_000)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an absolute http(s) URL without query or fragment, e.g. https://cds.example.org")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials")
        return value.rstrip("/")

    def cds_audience(self, path: str) -> str:
        """The JWT audience of a CDS route: the configured public URL and the route path, nothing from the request."""
        if self.public_url is None:
            raise ServiceConfigError(
                "PAINPATH_PUBLIC_URL is not set", [Problem("PAINPATH_PUBLIC_URL", "required for CDS client JWTs")]
            )
        return self.public_url + path

    @property
    def resolved_database_url(self) -> str:
        """``database_url``, or the embedded SQLite file in ``data_dir``."""
        return self.database_url or default_database_url(self.data_dir)

    @property
    def evaluation_workers(self) -> int:
        """``workers``, or by default one per CPU (none on a single CPU, where a pool only adds overhead)."""
        if self.workers is not None:
            return self.workers
        cpus = os.cpu_count() or 1
        return cpus if cpus > 1 else 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``PAINPATH_*`` variables; ``overrides`` (e.g. command-line options) win over them."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {field: env[var] for field, var in _ENV.items() if env.get(var, "") != ""}
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            raise ServiceConfigError(
                "invalid service settings",
                [
                    Problem(_ENV.get(str(e["loc"][0]), str(e["loc"][0])) if e["loc"] else "(settings)", e["msg"])
                    for e in exc.errors(include_url=False)
                ],
            ) from None
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse unsafe combinations: development mode (no API keys) bound to a non-loopback address, and
        CDS client JWTs without a configured public URL (their audience)."""
        if self.dev_mode and not is_loopback(self.host):
            raise ServiceConfigError(
                "refusing to start: development mode (no API keys) may only bind to a loopback address",
                [Problem("PAINPATH_HOST", f"{self.host} is not a loopback address", "127.0.0.1")],
            )
        if self.cds_trusted_issuers is not None and self.public_url is None:
            raise ServiceConfigError(
                "refusing to start: CDS client JWTs are configured but the service's public URL is not",
                [
                    Problem(
                        "PAINPATH_PUBLIC_URL",
                        "required with PAINPATH_CDS_TRUSTED_ISSUERS: the JWT audience is this URL, never the "
                        "request's Host header",
                        "https://cds.example.org",
                    )
                ],
            )
