"""The rule engine's front door: load and validate rules, evaluate facts, explain decisions.

Code outside the engine imports from here (and the typed JSON contract from
``painpath.engine.contract``), never from the engine's modules::

    from painpath.engine import Engine, load_ruleset, render_json, render_text

    engine = Engine(load_ruleset(rules_dir))
    decision = engine.evaluate(facts)
"""

from painpath.engine.decision import (
    AdherenceEntry,
    Decision,
    MissingFact,
    PathwayEntry,
    PmpSection,
    PossibleFinding,
    Proviso,
    Reason,
    RedFlagFinding,
    RedFlagSection,
    ReferralEntry,
    RuleOutcome,
    SectionEntry,
)
from painpath.engine.findings import Finding, citation_lines, facts_used, guideline_for, missing_for
from painpath.engine.findings import findings as findings_of
from painpath.engine.ir import AllNode, AnyNode, AtLeastNode, Leaf, Node, NotNode, Rule, RulesetIR
from painpath.engine.language import Guideline, RuleFile
from painpath.engine.loader import hash_files, load_ruleset, load_site_config
from painpath.engine.render import Trace, decision_to_dict, decision_to_text, question_of, rule_summary
from painpath.engine.strata import Engine, EngineStats, Evaluator
from painpath.engine.vectors import VectorReport, VectorResult, run_vectors
from painpath.engine.vocabulary import SectionSpec, Vocabulary

render_json = decision_to_dict
"""The Decision as JSON-ready data (docs/decision-format.md)."""
render_text = decision_to_text
"""The clinician's text summary of a Decision."""

__all__ = [
    "AdherenceEntry",
    "AllNode",
    "AnyNode",
    "AtLeastNode",
    "Decision",
    "Engine",
    "EngineStats",
    "Evaluator",
    "Finding",
    "Guideline",
    "Leaf",
    "MissingFact",
    "Node",
    "NotNode",
    "PathwayEntry",
    "PmpSection",
    "PossibleFinding",
    "Proviso",
    "Reason",
    "RedFlagFinding",
    "RedFlagSection",
    "ReferralEntry",
    "Rule",
    "RuleFile",
    "RuleOutcome",
    "RulesetIR",
    "SectionEntry",
    "SectionSpec",
    "Trace",
    "VectorReport",
    "VectorResult",
    "Vocabulary",
    "citation_lines",
    "decision_to_dict",
    "decision_to_text",
    "facts_used",
    "findings_of",
    "guideline_for",
    "hash_files",
    "load_ruleset",
    "load_site_config",
    "missing_for",
    "question_of",
    "render_json",
    "render_text",
    "rule_summary",
    "run_vectors",
]
