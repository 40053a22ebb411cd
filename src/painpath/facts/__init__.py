"""Typed patient facts: pydantic models, the fact catalogue, and validated parsing."""

from painpath.facts.catalogue import CATALOGUE, FactSpec, flatten, unflatten
from painpath.facts.parse import parse_facts, parse_facts_json
from painpath.facts.patient import PatientFacts

__all__ = ["CATALOGUE", "FactSpec", "PatientFacts", "flatten", "parse_facts", "parse_facts_json", "unflatten"]
