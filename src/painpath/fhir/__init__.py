"""FHIR at the edge: a Bundle (or a QuestionnaireResponse) in as ``PatientFacts`` (see docs/fhir.md); the SDC
Questionnaire ``painpath-msk`` (``painpath.fhir.questionnaire``), GuidanceResponses and the audit's
MeasureReports out (``painpath.fhir.guidance``, ``painpath.fhir.measurereport``)."""

from painpath.fhir.codes import CodeIndex, default_code_index, load_code_tables
from painpath.fhir.mapping import FhirFacts, MappingIssue, Referral, facts_from_bundle, facts_from_fhir
from painpath.fhir.questionnaire import QUESTIONNAIRE_URL, questionnaire

__all__ = [
    "QUESTIONNAIRE_URL",
    "CodeIndex",
    "FhirFacts",
    "MappingIssue",
    "Referral",
    "default_code_index",
    "facts_from_bundle",
    "facts_from_fhir",
    "load_code_tables",
    "questionnaire",
]
