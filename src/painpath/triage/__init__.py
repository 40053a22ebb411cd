"""Triage of referrals: the outcome vocabulary (``codes.yaml``), a decision's worklist summary, and
whether a triage outcome departs from painpath's advice. Used by the API and the web app alike."""

from painpath.triage.codes import AdviceRule, TriageCodes, TriageCodesError, load_codes
from painpath.triage.outcome import CheckedOutcome, OutcomeChoice, OutcomeProblem, check_outcome
from painpath.triage.summary import decision_index

__all__ = [
    "AdviceRule",
    "CheckedOutcome",
    "OutcomeChoice",
    "OutcomeProblem",
    "TriageCodes",
    "TriageCodesError",
    "check_outcome",
    "decision_index",
    "load_codes",
]
