"""FHIR R4 input: an adapter at the edge that maps a Bundle to ``PatientFacts`` (see docs/fhir.md)."""

from painpath.fhir.codes import CodeIndex, default_code_index, load_code_tables
from painpath.fhir.mapping import FhirFacts, MappingIssue, Referral, facts_from_bundle

__all__ = [
    "CodeIndex",
    "FhirFacts",
    "MappingIssue",
    "Referral",
    "default_code_index",
    "facts_from_bundle",
    "load_code_tables",
]
