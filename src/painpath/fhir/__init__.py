"""FHIR at the edge: a Bundle in as ``PatientFacts`` (see docs/fhir.md); GuidanceResponses and the audit's
MeasureReports out (``painpath.fhir.guidance``, ``painpath.fhir.measurereport``)."""

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
