"""painpath's CDS Hooks services (``services.yaml``) and the prefetch templates they declare."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from painpath.cds.models import FHIR_ID
from painpath.fhir import CodeIndex, default_code_index

SERVICES_FILE = Path(__file__).with_name("services.yaml")
_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z]+)\s*\}\}")
_FHIR_ID = re.compile(FHIR_ID)


class InvalidToken(ValueError):
    """A context value that is not a FHIR id, so may not be substituted into a query URL."""

    def __init__(self, name: str) -> None:
        super().__init__(f"context.{name} must be a FHIR id ([A-Za-z0-9-.], 1-64 characters)")
        self.name = name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrefetchSpec(_Strict):
    query: str
    required: bool


class ServiceSpec(_Strict):
    id: str
    hook: Literal["order-select", "order-sign", "patient-view"]
    hookVersion: str
    title: str
    description: str
    prefetch: tuple[str, ...]


class ServicesFile(_Strict):
    spec_version: str
    services: tuple[ServiceSpec, ...]
    usage_requirements: str
    prefetch: dict[str, PrefetchSpec]


class Catalogue:
    """The services, with prefetch templates expanded for the loaded code tables."""

    def __init__(self, data: ServicesFile, codes: CodeIndex) -> None:
        self.data = data
        tables = codes.tables
        observation_codes = ",".join(
            [f"{o.system}|{o.code}" for o in tables.observations] + [f"{tables.painpath_system}|"]
        )
        self.templates = {
            key: spec.query.replace("{{observation_codes}}", observation_codes) for key, spec in data.prefetch.items()
        }
        self.by_id = {s.id: s for s in data.services}
        missing = {k for s in data.services for k in s.prefetch} - set(data.prefetch)
        if missing:
            raise ValueError(f"services.yaml: prefetch keys without a template: {sorted(missing)}")

    def discovery(self) -> dict[str, Any]:
        """The ``GET /cds-services`` document (CDS Hooks 2.0.1 with the 3.0 ``version``/``hookVersion``)."""
        return {
            "services": [
                {
                    "hook": s.hook,
                    "title": s.title,
                    "description": " ".join(s.description.split()),
                    "id": s.id,
                    "prefetch": {k: self.templates[k] for k in s.prefetch},
                    "usageRequirements": " ".join(self.data.usage_requirements.split()),
                    "version": self.data.spec_version,
                    "hookVersion": s.hookVersion,
                }
                for s in self.data.services
            ]
        }

    def required(self, key: str) -> bool:
        return self.data.prefetch[key].required

    def query(self, key: str, context: Mapping[str, Any]) -> str:
        """The prefetch template of ``key`` with the context tokens filled in.

        ``KeyError`` when a token's context value is absent; ``InvalidToken`` when it is not a FHIR id
        (a value such as ``1&_include=*`` or ``../Patient`` would change the query).
        """

        def fill(match: re.Match[str]) -> str:
            value = context.get(match.group(1))
            if not isinstance(value, str):
                raise KeyError(match.group(1))
            if not _FHIR_ID.fullmatch(value):
                raise InvalidToken(match.group(1))
            return value

        return _TOKEN.sub(fill, self.templates[key])


@functools.cache
def load_catalogue(path: Path = SERVICES_FILE) -> Catalogue:
    return Catalogue(
        ServicesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))), default_code_index()
    )
