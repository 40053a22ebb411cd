"""Service settings: ``PAINPATH_*`` environment variables and an optional settings file, read once at startup.

The one model of every setting is :class:`Settings` (pydantic-settings). A value comes from, in order: the
command line (``painpath serve --host/--port/--dev``), the environment (``PAINPATH_PORT=8080``), the settings
file named by ``PAINPATH_SETTINGS_FILE`` (TOML with the lower-case names, ``port = 8080``, or a ``.env`` file
with the variables, ``PAINPATH_PORT=8080``), then the default. Empty variables count as unset. A bad value or
an unknown name (a misspelt variable or file key) stops the start with exit code 4, naming the setting and
where it came from. ``docs/settings.md`` holds the table of every setting, generated from this model
(``python -m painpath.api.settings --write-docs``; a test keeps it in sync).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from painpath.cli.exit_codes import ExitCode
from painpath.errors import Problem, SettingsError, suggest
from painpath.facts.care import CareSetting
from painpath.paths import checkout_dir, default_rules_dir
from painpath.store import default_database_url

PREFIX = "PAINPATH_"
MIB = 1_048_576
SETTINGS_FILE_ENV = "PAINPATH_SETTINGS_FILE"
READ_ELSEWHERE = {
    SETTINGS_FILE_ENV: ("the settings file (`.toml` or `.env`) read after the environment", "none"),
    "PAINPATH_RETENTION_DAYS": ("decision-log retention in days (`painpath store prune`, at start)", "keep all"),
    "PAINPATH_WEB_IDLE_SECONDS": ("web app sign-out after this many idle seconds", "1800"),
    "PAINPATH_TEST_DATABASE_URL": ("development only: the PostgreSQL database of the tests", "none"),
    "PAINPATH_PG_PORT": ("development only: the port of the tests' PostgreSQL (`scripts/ci-postgres.sh`)", "55432"),
    "PAINPATH_PG_DIR": ("development only: the data directory of the tests' PostgreSQL", "painpath-postgres in /tmp"),
    "PAINPATH_CHROMIUM": ("development only: the Chromium of the browser tests", "/usr/bin/chromium"),
    "PAINPATH_SKIP_BROWSER_SETUP": ("development only: 1: `scripts/ci-browser.sh` installs nothing", "0"),
    "PAINPATH_UPDATE_GOLDEN": ("development only: 1 rewrites the golden decisions of `tests/golden`", "0"),
    "PAINPATH_WRITE_SCREENSHOTS": ("development only: 1 refreshes `docs/screenshots/` from the browser tests", "0"),
}
"""`PAINPATH_*` variables that other modules read from the environment themselves (not settings-file keys)."""


class ServiceConfigError(SettingsError):
    """The service settings are invalid or unsafe; the service does not start."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _default(text: str) -> Any:
    """The default as ``docs/settings.md`` shows it, for a setting whose default is computed."""
    return {"default_text": text}


class Settings(BaseSettings):
    """Everything the service needs to start; immutable once read. Each field's description is its row in
    `docs/settings.md`."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, frozen=True, extra="forbid", env_ignore_empty=True, case_sensitive=False
    )

    public_url: str | None = Field(
        default=None,
        description="this service's public base URL (scheme, host, port, path prefix) as CDS clients reach it: "
        "the only accepted JWT audience",
        json_schema_extra=_default("none; required when PAINPATH_CDS_TRUSTED_ISSUERS is set"),
    )
    host: str = Field(default="127.0.0.1", description="address to bind")
    port: int = Field(default=8000, ge=0, le=65535, description="port to bind (0: any free port)")
    data_dir: Path = Field(default=Path("data"), description="where the embedded SQLite database lives")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (`postgresql://...` needs the `postgres` extra)",
        json_schema_extra=_default("SQLite file in the data dir"),
    )
    rules_dir: Path = Field(
        default_factory=default_rules_dir,
        description="rules directory (its guidelines are `../guidelines`)",
        json_schema_extra=_default("the bundled rules"),
    )
    site_config: Path | None = Field(default=None, description="site configuration (parameter overrides)")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="largest accepted request body")
    fhir_max_body_bytes: int = Field(
        default=16 * 1_048_576,
        ge=1024,
        description="largest `application/fhir+json` body (a Bundle or QuestionnaireResponse)",
    )
    workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="evaluation worker processes (0: in-process)",
        json_schema_extra=_default("CPU count (0 on one CPU)"),
    )
    dev_mode: bool = Field(default=False, description="1: no API keys (loopback binding only)")
    log_level: str = Field(
        default="INFO",
        pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="structured log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)",
    )
    audit_max_patients: int = Field(default=10_000, ge=1, description="most records in one `POST /v1/audits`")
    audit_max_bytes: int = Field(
        default=64 * 1_048_576, ge=1024, description="largest cohort upload (`POST /v1/audits`)"
    )
    cds_trusted_issuers: Path | None = Field(
        default=None,
        description="JSON file: CDS client issuer -> JWK Set; when set, CDS Hooks calls need a valid JWT",
        json_schema_extra=_default("none (API keys instead)"),
    )
    cds_care_setting: CareSetting | None = Field(
        default=None,
        description="care setting of the CDS client's users (e.g. primary_care), for requested imaging",
        json_schema_extra=_default("none (unknown)"),
    )
    fhir_max_age_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="age beyond which FHIR observations are reported as stale and not used",
        json_schema_extra=_default("the code tables' default"),
    )
    audit_queue_per_key: int = Field(
        default=4, ge=1, le=1000, description="audit jobs one API key may have queued or running (more: 429)"
    )
    audit_queue_total: int = Field(default=16, ge=1, le=10_000, description="audit jobs queued or running in all")
    audit_workers: int = Field(
        default=1, ge=1, le=64, description="audit worker processes (niced, outside the request path)"
    )
    db_busy_timeout_ms: int = Field(
        default=2000,
        ge=50,
        le=60_000,
        description="how long a request waits for a locked or stalled database before answering 503",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Command line, then environment, then the settings file (no ``./.env`` or secrets directory)."""
        file = settings_file()
        if file is None:
            return (init_settings, env_settings)
        if file.suffix == ".toml":
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=file))
        return (init_settings, env_settings, DotEnvSettingsSource(settings_cls, env_file=file, env_prefix=PREFIX))

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
    def from_env(cls, **overrides: object) -> Settings:
        """Read the environment and the settings file; ``overrides`` (command-line options) win over both.

        Raises ``ServiceConfigError`` naming each bad setting and where it came from.
        """
        _check_names()
        try:
            given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
            settings = cls(**given)
        except ValidationError as exc:
            raise ServiceConfigError(
                "invalid service settings",
                [_problem(str(e["loc"][0]) if e["loc"] else "", e["type"], e["msg"]) for e in exc.errors()],
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


def variable(field: str) -> str:
    """The environment variable of a setting: ``port`` -> ``PAINPATH_PORT``."""
    return PREFIX + field.upper()


def settings_file() -> Path | None:
    """The settings file ``$PAINPATH_SETTINGS_FILE`` names, checked to exist and to be TOML or ``.env``."""
    name = os.environ.get(SETTINGS_FILE_ENV, "")
    if not name:
        return None
    path = Path(name)
    if not path.is_file():
        raise ServiceConfigError(
            "invalid service settings", [Problem(SETTINGS_FILE_ENV, f"{name} is not a readable file")]
        )
    if path.suffix not in {".toml", ".env"} and path.name != ".env":
        raise ServiceConfigError(
            "invalid service settings",
            [Problem(SETTINGS_FILE_ENV, f"{name}: a settings file is TOML (.toml) or a .env file (.env)")],
        )
    if path.suffix == ".toml":
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ServiceConfigError(
                "invalid service settings", [Problem(SETTINGS_FILE_ENV, f"{name}: {exc}")]
            ) from None
    return path


def _file_keys(path: Path) -> dict[str, str]:
    """The setting each key of the settings file names (field name -> the key as written)."""
    if path.suffix == ".toml":
        return {key: key for key in tomllib.loads(path.read_text(encoding="utf-8"))}
    keys = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key = line.strip().removeprefix("export ").partition("=")[0].strip()
        if key and not key.startswith("#"):
            keys[key.lower().removeprefix(PREFIX.lower())] = key
    return keys


def _problem(loc: str, kind: str, message: str) -> Problem:
    """A problem naming the setting as the user wrote it: the variable, or the key in the settings file."""
    field = loc.lower().removeprefix(PREFIX.lower())  # a .env file's unknown key arrives with its prefix
    env_set = os.environ.get(variable(field), "") != ""
    file = settings_file()
    in_file = _file_keys(file) if file is not None and not env_set else {}
    where = f"{in_file[field]} in {file}" if field in in_file else variable(field) if field else "(settings)"
    if kind != "extra_forbidden":
        return Problem(where, message)
    hint = suggest(field, list(Settings.model_fields))
    if hint is not None and not in_file.get(field, "").islower():
        hint = variable(hint)  # the name as it is written there: PAINPATH_HOST, or host in TOML
    return Problem(where, "not a painpath setting (docs/settings.md lists them)", hint)


def _check_names() -> None:
    """Refuse ``PAINPATH_*`` variables that nothing reads (a misspelt setting would be silently ignored)."""
    known = {variable(f) for f in Settings.model_fields} | set(READ_ELSEWHERE)
    unknown = sorted(k for k in os.environ if k.upper().startswith(PREFIX) and k.upper() not in known)
    if unknown:
        raise ServiceConfigError(
            "invalid service settings",
            [
                Problem(name, "not a painpath setting (docs/settings.md lists them)", suggest(name.upper(), known))
                for name in unknown
            ],
        )


def _default_text(name: str, info: FieldInfo) -> str:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("default_text"), str):
        return str(extra["default_text"])
    value = info.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) and value >= MIB and value % MIB == 0:
        return f"{value} ({value // MIB} MiB)"
    return str(value)


def settings_table() -> str:
    """The Markdown table of every setting (``docs/settings.md``), from the model and ``READ_ELSEWHERE``."""
    rows = ["| variable | settings-file key (TOML) | meaning | default |", "| --- | --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        rows.append(f"| `{variable(name)}` | `{name}` | {info.description} | {_default_text(name, info)} |")
    for var, (meaning, default) in READ_ELSEWHERE.items():
        rows.append(f"| `{var}` | (environment only) | {meaning} | {default} |")
    return "\n".join(rows) + "\n"


TABLE_START, TABLE_END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def _docs_with_table(text: str) -> str:
    head, _, rest = text.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    return f"{head}{TABLE_START}\n{settings_table()}{TABLE_END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """``python -m painpath.api.settings [--write-docs]``: print the settings table, or rewrite docs/settings.md."""
    parser = argparse.ArgumentParser(prog="python -m painpath.api.settings", description=main.__doc__)
    parser.add_argument("--write-docs", action="store_true", help="rewrite the table in docs/settings.md")
    args = parser.parse_args(argv)
    if not args.write_docs:
        sys.stdout.write(settings_table())
        return ExitCode.OK
    repo = checkout_dir()
    if repo is None:
        print("painpath: --write-docs needs a repository checkout", file=sys.stderr)
        return ExitCode.USAGE
    doc = repo / "docs" / "settings.md"
    doc.write_text(_docs_with_table(doc.read_text(encoding="utf-8")), encoding="utf-8")
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
