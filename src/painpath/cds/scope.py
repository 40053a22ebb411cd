"""Which hook calls painpath answers (``scope.yaml``): draft orders it has rules for, patients with a
chronic MSK pain problem on the record. Everything else is answered with no cards.

Python only interprets the data: the codes are the FHIR code tables' value sets (read through
``painpath.fhir``), and ``scope.yaml`` names which of them are in scope.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from painpath.facts.catalogue import CATALOGUE
from painpath.fhir import CodeIndex, Referral, default_code_index

SCOPE_FILE = Path(__file__).with_name("scope.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderScope(_Strict):
    referral_kinds: frozenset[str]
    medicine_classes: frozenset[str]


class PatientScope(_Strict):
    condition_value_sets: frozenset[str]
    working_diagnosis_codes: bool
    clinical_status: frozenset[str]
    excluded_verification: frozenset[str]


class Scope(_Strict):
    version: str
    cites: tuple[str, ...]
    orders: OrderScope
    patient: PatientScope


def _codings(concept: Any) -> list[tuple[str, str]]:
    if not isinstance(concept, Mapping) or not isinstance(concept.get("coding"), list):
        return []
    return [
        (c["system"], c["code"])
        for c in concept["coding"]
        if isinstance(c, Mapping) and isinstance(c.get("system"), str) and isinstance(c.get("code"), str)
    ]


def _status(concept: Any) -> str | None:
    codes = _codings(concept)
    return codes[0][1] if codes else None


class ScopeCheck:
    """The scope data checked against the code tables (a name that is not a value set is an error)."""

    def __init__(self, scope: Scope, codes: CodeIndex) -> None:
        self.scope = scope
        self.codes = codes
        value_sets = {row.value_set for row in codes.tables.conditions}
        unknown = scope.patient.condition_value_sets - value_sets
        medicines = set(CATALOGUE["care.medicines_current"].values)
        unknown |= scope.orders.medicine_classes - medicines
        kinds = {s.kind for s in (*codes.tables.service_requests, *codes.tables.referral_codes)}
        unknown |= scope.orders.referral_kinds - kinds
        if unknown:
            raise ValueError(f"{SCOPE_FILE.name}: not in the code tables: {sorted(unknown)}")

    def msk_pain_condition(self, condition: Mapping[str, Any]) -> bool:
        """A Condition that records a chronic MSK pain problem (current, not refuted)."""
        spec = self.scope.patient
        if _status(condition.get("verificationStatus")) in spec.excluded_verification:
            return False
        clinical = _status(condition.get("clinicalStatus"))
        if clinical is not None and clinical not in spec.clinical_status:
            return False
        diagnoses = CATALOGUE["pain.working_diagnosis"].values
        for system, code in _codings(condition.get("code")):
            row = self.codes.conditions.get((system, code))
            if row is not None and row.value_set in spec.condition_value_sets:
                return True
            if spec.working_diagnosis_codes and system == self.codes.tables.diagnosis_system and code in diagnoses:
                return True
        return False

    def patient_in_scope(self, resources: Iterable[Mapping[str, Any]]) -> bool:
        """Whether the record holds a chronic MSK pain problem."""
        # a malformed entry is reported by the mapping; here it is simply not a problem on the record
        return any(
            isinstance(r, Mapping) and r.get("resourceType") == "Condition" and self.msk_pain_condition(r)
            for r in resources
        )

    def analgesic(self, order: Mapping[str, Any]) -> bool:
        """A MedicationRequest for a medicine of the in-scope classes."""
        for system, code in _codings(order.get("medicationCodeableConcept")):
            row = self.codes.medication(system, code)
            if row is not None and row.value in self.scope.orders.medicine_classes:
                return True
        return False

    def orders_in_scope(
        self,
        orders: Sequence[Mapping[str, Any]],
        referrals: Sequence[Referral],
        resources: Iterable[Mapping[str, Any]],
    ) -> bool:
        """Whether any of the draft ``orders`` (the ones the hook is about) is one painpath has rules for.

        ``referrals`` are the mapped ServiceRequests (``FhirFacts.referrals``); ``resources`` the
        patient's record, read only for a medicine order (prescribing for chronic pain).
        """
        ids = {f"{o.get('resourceType')}/{o.get('id')}" for o in orders}
        if any(r.source in ids and r.kind in self.scope.orders.referral_kinds for r in referrals):
            return True
        medicines = [o for o in orders if o.get("resourceType") == "MedicationRequest" and self.analgesic(o)]
        return bool(medicines) and self.patient_in_scope(resources)


@functools.cache
def load_scope(path: Path = SCOPE_FILE) -> ScopeCheck:
    """The bundled scope, validated against the code tables."""
    scope = Scope.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    return ScopeCheck(scope, default_code_index())
