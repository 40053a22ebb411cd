"""Third-party FHIR R4 data painpath's authors did not write: carebundle's synthetic US Core Bundles.

``carebundle`` (PyPI, pinned in pyproject's dev extra and requirements.lock) generates a
deterministic transaction Bundle per (profile, seed) with no network: Patient, Encounter,
Condition, Observation (labs, vitals), MedicationRequest, DiagnosticReport, Practitioner. Each one
goes through ``facts_from_bundle`` unchanged: nothing raises, demographics map, and everything
painpath does not read is reported (information), never dropped silently or raised.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import carebundle  # a pinned dependency of requirements.lock: a missing install fails, never skips
import pytest

from painpath.fhir import facts_from_bundle

AS_OF = datetime.date(2026, 11, 21)
CASES = [(profile, seed) for profile in sorted(carebundle.PROFILES)[:4] for seed in (1, 7)]


def third_party_bundle(profile: str, seed: int) -> dict[str, Any]:
    bundle = carebundle.generate_bundle(profile=profile, seed=seed, sex="F" if seed % 2 else "M")
    document: dict[str, Any] = json.loads(carebundle.to_json(bundle))
    return document


def test_the_package_gives_real_r4_bundles() -> None:
    document = third_party_bundle(*CASES[0])
    assert document["resourceType"] == "Bundle" and len(document["entry"]) > 5
    assert any(e["resource"]["resourceType"] == "Patient" for e in document["entry"])


@pytest.mark.parametrize(("profile", "seed"), CASES)
def test_third_party_bundles_map_without_exceptions(profile: str, seed: int) -> None:
    document = third_party_bundle(profile, seed)
    result = facts_from_bundle(document, as_of=AS_OF)
    assert result.facts.demographics.sex in ("female", "male")
    assert result.facts.demographics.age is not None and result.facts.demographics.age >= 18
    assert result.patient_ref is not None and result.sources["demographics.sex"] == result.patient_ref
    # what painpath does not read is reported, one issue at least per resource it did not use
    reported = {i.source for i in result.issues}
    unused = [e for e in document["entry"] if e["resource"]["resourceType"] in ("Encounter", "Practitioner")]
    assert len(reported) >= len(unused) > 0
    # codes no rule reads (labs, vitals, diabetes) are information, not warnings
    unknown = [i for i in result.issues if i.code == "unknown-code"]
    assert unknown and all(i.severity == "information" for i in unknown)
    assert not [i for i in result.issues if i.code == "invalid-resource"], [
        i.message for i in result.issues if i.code == "invalid-resource"
    ]
