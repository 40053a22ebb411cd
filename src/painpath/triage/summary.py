"""A decision's worklist summary: what the triage worklist shows and filters on, from the typed Decision."""

from __future__ import annotations

from collections.abc import Mapping

from painpath.engine import Decision
from painpath.store.triage import NO_URGENCY_RANK, DecisionIndex

REFERRALS_FACT = "care.referrals_requested"


def decision_index(decision: Decision) -> DecisionIndex:
    """The worklist columns of ``decision``: patient reference, the most urgent red flag or safety
    alert, the red-flag screen, the PMP status and setting, and the referrals requested.

    A manual-review decision asserts nothing clinical, so only its patient reference is kept.
    """
    if decision.status != "ok":
        return DecisionIndex(patient_ref=decision.patient_id)
    order = decision.vocabulary.urgencies
    rank = decision.vocabulary.urgency_rank
    urgencies = [str(getattr(r.rule.concludes, "urgency", "")) for r in decision.safety_alerts]
    if decision.red_flags is not None:
        # the worklist sorts by the highest urgency, present or possible (a possible emergency first)
        urgencies += [f.urgency for f in decision.red_flags.findings]
        urgencies += [p.urgency for p in decision.red_flags.possible]
    best = min((rank[u] for u in urgencies if u in rank), default=NO_URGENCY_RANK)
    referrals = decision.facts.get(REFERRALS_FACT) or ()
    return DecisionIndex(
        patient_ref=decision.patient_id,
        highest_urgency=order[best] if best < len(order) else None,
        urgency_rank=best,
        red_flag_status=decision.red_flags.status if decision.red_flags is not None else None,
        pmp_status=decision.pmp.status if decision.pmp is not None else None,
        pmp_setting=decision.pmp.setting if decision.pmp is not None else None,
        referrals_requested=tuple(sorted(str(r) for r in referrals)),
    )


def advice_summary(status: str, index: DecisionIndex) -> Mapping[str, str | None]:
    """The fields the advice rules of ``codes.yaml`` match on."""
    return {
        "status": status,
        "highest_urgency": index.highest_urgency,
        "red_flag_status": index.red_flag_status,
        "pmp_status": index.pmp_status,
        "pmp_setting": index.pmp_setting,
    }
