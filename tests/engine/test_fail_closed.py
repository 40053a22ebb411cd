"""A disagreement between the evaluators fails closed to manual review and is counted."""

from __future__ import annotations

import multiprocessing
import os
import re
from dataclasses import replace
from typing import Any

import durable_rules_engine as _real_dre
import orjson
import pytest

from painpath.audit.synth import cohort as synthetic_cohort
from painpath.engine import Engine, durable_adapter, ir
from painpath.engine.contract import DecisionDocument
from painpath.engine.decision import Decision
from painpath.engine.durable_adapter import DurableCore
from painpath.engine.render import decision_to_dict
from painpath.facts import CATALOGUE, PatientFacts, parse_facts


def test_disagreement_fails_closed(engine: Engine) -> None:
    """Simulate a compiler defect: durable-rules is given a red-flag rule whose condition was inverted."""
    no_flags = {
        p.split(".", 1)[1]: False
        for p, spec in CATALOGUE.items()
        if p.startswith("red_flags.") and spec.kind == "boolean"
    }
    facts = parse_facts({"red_flags": no_flags, "demographics": {"age": 45}})
    original = engine.ruleset
    stratum = original.strata[0]
    silent = {o.rule.id for o in engine.evaluate(facts).outcomes if o.status == "not_fired"}
    index = next(i for i, r in enumerate(stratum.rules) if r.id in silent)
    rules = list(stratum.rules)
    rules[index] = replace(rules[index], when=ir.NotNode(rules[index].when))
    broken = replace(original, strata=(replace(stratum, rules=tuple(rules)), *original.strata[1:]))
    faulty = Engine(original)
    faulty._durable = DurableCore(broken, faulty.parameters)  # fault injection: a mis-compiled durable ruleset
    decision = faulty.evaluate(facts)
    assert decision.status == "manual_review"
    assert faulty.stats.disagreements == 1
    out = decision_to_dict(decision)
    assert "red_flags" not in out and "pmp" not in out  # nothing clinical is asserted
    assert out["manual_review"]["details"]
    DecisionDocument.model_validate(out)  # a manual-review decision still honours the decision contract


def test_agreeing_engine_counts_no_disagreement(engine: Engine) -> None:
    before = engine.stats.disagreements
    decision = engine.evaluate(parse_facts({}))
    assert decision.status == "ok"
    assert engine.stats.disagreements == before


# -- the reused durable-rules session and its guards (design decision D1, revised) ---------------

COHORT_SEED = 20261121


class FaultyDre:
    """The durable-rules extension with faults injected into chosen calls (everything else passes through)."""

    def __init__(self, **faults: Any) -> None:
        self.faults = faults
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        real = getattr(_real_dre, name)
        fault = self.faults.get(name)
        if fault is None:
            return real

        def call(*args: Any) -> Any:
            n = self.calls[name] = self.calls.get(name, 0) + 1
            return fault(n, real, *args)

        return call


def _patients(n: int) -> list[PatientFacts]:
    return [parse_facts(p) for p in synthetic_cohort(n, COHORT_SEED)]


def _fired(decision: Decision) -> list[str]:
    return sorted(o.rule.id for o in decision.outcomes if o.status == "fired")


@pytest.fixture
def fresh(engine: Engine) -> Engine:
    """An engine of its own (its own durable-rules rulesets and sessions)."""
    return Engine(engine.ruleset)


def _assert_recovered(eng: Engine, patient: PatientFacts, reference: Decision) -> None:
    after = eng.evaluate(patient)
    assert after.status == "ok"
    assert _fired(after) == _fired(reference)
    assert eng._durable.idle_check() == []


def test_sessions_are_reused_and_idle_between_evaluations(fresh: Engine) -> None:
    patients = _patients(30)
    for p in patients:
        assert fresh.evaluate(p).status == "ok"
    core = fresh._durable
    assert core.mode == "reused"
    assert core.open_sessions() == len(fresh.ruleset.strata)
    sids = [s.session.sid for s in core._strata if s.session]
    for p in patients:
        fresh.evaluate(p)
    assert [s.session.sid for s in core._strata if s.session] == sids  # the same sessions, not new ones
    assert core.idle_check() == []
    assert core.rebuilds == 0
    assert fresh.stats.disagreements == fresh.stats.engine_errors == 0


def test_reused_and_per_evaluation_sessions_agree(fresh: Engine) -> None:
    own = Engine(fresh.ruleset)
    own._durable = DurableCore(fresh.ruleset, own.parameters, sessions="per_evaluation")
    for p in _patients(60):
        a, b = fresh.evaluate(p), own.evaluate(p)
        assert a.status == b.status == "ok"
        assert _fired(a) == _fired(b)


def test_a_failing_retract_fails_closed_and_rebuilds_the_session(
    fresh: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = _patients(1)[0]
    reference = fresh.evaluate(patient)
    faulty = FaultyDre(retract_fact=lambda n, real, *a: (real(*a), (201, 0))[1] if n == 1 else real(*a))
    monkeypatch.setattr(durable_adapter, "_dre", faulty)
    before = fresh._durable.rebuilds
    decision = fresh.evaluate(patient)
    assert decision.status == "manual_review"
    assert "retract_fact returned 201" in " ".join(decision.manual_review_details)
    assert fresh.stats.engine_errors == 1
    assert fresh._durable.rebuilds == before + 1
    _assert_recovered(fresh, patient, reference)


def test_a_retract_that_raises_fails_closed(fresh: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    patient = _patients(1)[0]
    reference = fresh.evaluate(patient)

    def boom(n: int, real: Any, *args: Any) -> Any:
        if n == 1:
            raise _real_dre.error("Could not retract fact, error code: 999")
        return real(*args)

    monkeypatch.setattr(durable_adapter, "_dre", FaultyDre(retract_fact=boom))
    assert fresh.evaluate(patient).status == "manual_review"
    _assert_recovered(fresh, patient, reference)


def test_a_firing_carrying_another_fact_id_fails_closed(fresh: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    patient = _patients(1)[0]
    reference = fresh.evaluate(patient)

    tampered: list[int] = []

    def other_patient(n: int, real: Any, *args: Any) -> Any:
        message = real(*args)
        if not tampered and message and '"id":"' in message:
            tampered.append(n)  # the first firing only: the next evaluation must recover
            return re.sub(r'"id":"\d+"', '"id":"123456789"', message, count=1)
        return message

    monkeypatch.setattr(durable_adapter, "_dre", FaultyDre(complete_and_start_action=other_patient))
    decision = fresh.evaluate(patient)
    assert decision.status == "manual_review"
    assert "does not carry this patient's fact" in " ".join(decision.manual_review_details)
    assert fresh._durable.rebuilds == 1
    _assert_recovered(fresh, patient, reference)


def test_a_missing_sentinel_firing_fails_closed(fresh: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    patient = _patients(1)[0]
    reference = fresh.evaluate(patient)
    fresh.evaluate(patient)

    def drop_sentinel(n: int, real: Any, *args: Any) -> Any:
        message = real(*args)
        if message and message.startswith('{"__painpath_sentinel__"'):
            assert real(*args) is None  # the sentinel fires last (lowest priority)
            return None
        return message

    monkeypatch.setattr(durable_adapter, "_dre", FaultyDre(complete_and_start_action=drop_sentinel))
    assert fresh.evaluate(patient).status == "manual_review"
    monkeypatch.undo()
    _assert_recovered(fresh, patient, reference)


@pytest.mark.parametrize("error", [_real_dre.error, RuntimeError])
def test_an_exception_inside_every_7th_action_fails_only_those_patients_closed(
    fresh: Engine, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    patients = _patients(80)
    reference = [fresh.evaluate(p) for p in patients]

    def every_7th(n: int, real: Any, *args: Any) -> Any:
        if n % 7 == 0:
            raise error("injected fault in an action")
        return real(*args)

    faulty = FaultyDre(complete_and_start_action=every_7th)
    monkeypatch.setattr(durable_adapter, "_dre", faulty)
    errors_before = fresh.stats.engine_errors
    failed = 0
    for p, ref in zip(patients, reference, strict=True):
        decision = fresh.evaluate(p)
        if decision.status == "manual_review":
            failed += 1
            out = decision_to_dict(decision)
            assert "red_flags" not in out and "pmp" not in out
        else:
            assert _fired(decision) == _fired(ref)  # unaffected patients get exactly their decision
    assert failed > 10  # many patients were hit, and each of them failed closed
    assert fresh.stats.engine_errors - errors_before == failed
    # a fault in a session's warm-up abandons it (delete_state is unsafe before its first action completes)
    assert fresh._durable.rebuilds + fresh._durable.abandoned == failed
    assert fresh._durable.idle_check() == []
    monkeypatch.undo()
    for p, ref in zip(patients[:10], reference, strict=False):
        assert _fired(fresh.evaluate(p)) == _fired(ref)


def test_a_session_that_cannot_open_fails_closed_then_recovers(fresh: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    patient = _patients(1)[0]
    reference = Engine(fresh.ruleset).evaluate(patient)

    def first_fails(n: int, real: Any, *args: Any) -> Any:
        if n == 1:
            raise _real_dre.error("Could not assert fact, error code: 101")
        return real(*args)

    monkeypatch.setattr(durable_adapter, "_dre", FaultyDre(assert_fact=first_fails))
    decision = fresh.evaluate(patient)  # the very first call opens the sessions: the warm-up fails
    assert decision.status == "manual_review"
    assert fresh._durable.abandoned == 1
    _assert_recovered(fresh, patient, reference)


def test_idle_check_reports_and_rebuilds_a_session_holding_a_fact(fresh: Engine) -> None:
    patient = _patients(1)[0]
    reference = fresh.evaluate(patient)
    core = fresh._durable
    stratum = core._strata[0]
    assert stratum.session is not None
    leftover = orjson.dumps({"sid": stratum.session.sid, "id": "left-over", "kind": "painpath_patient"}).decode()
    result = _real_dre.assert_fact(stratum.handle, leftover)
    action = _real_dre.start_action_for_state(stratum.handle, result[1])
    while action:
        action = _real_dre.complete_and_start_action(stratum.handle, result[1])
    problems = core.idle_check()
    assert len(problems) == 1 and "holds 1 fact" in problems[0]
    assert stratum.session is None and core.rebuilds == 1
    _assert_recovered(fresh, patient, reference)


def _child_evaluates(eng: Engine, patients: list[PatientFacts]) -> tuple[int, list[str], list[list[str]], list[str]]:
    fired = [_fired(eng.evaluate(p)) for p in patients]
    sids = [s.session.sid for s in eng._durable._strata if s.session is not None]
    return os.getpid(), sids, fired, eng._durable.idle_check()


_FORK_ENGINE: Engine | None = None


def _in_child(patients: list[PatientFacts]) -> tuple[int, list[str], list[list[str]], list[str]]:
    assert _FORK_ENGINE is not None
    before = _FORK_ENGINE._durable.open_sessions()
    assert before == 0, "the parent's sessions are not this process's"
    return _child_evaluates(_FORK_ENGINE, patients)


def test_a_forked_child_creates_its_own_sessions_lazily(fresh: Engine) -> None:
    global _FORK_ENGINE  # noqa: PLW0603 - the forked child finds the engine here
    patients = _patients(20)
    parent_fired = [_fired(fresh.evaluate(p)) for p in patients]
    parent_sids = [s.session.sid for s in fresh._durable._strata if s.session is not None]
    assert len(parent_sids) == len(fresh.ruleset.strata)
    _FORK_ENGINE = fresh
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.map(_in_child, [patients[:10], patients[10:]])
    finally:
        _FORK_ENGINE = None
    pids = {pid for pid, _sids, _fired_sets, _problems in results}
    assert os.getpid() not in pids
    for pid, sids, _fired_sets, problems in results:
        assert problems == []
        assert len(sids) == len(parent_sids)
        assert not set(sids) & set(parent_sids)
        assert all(s.startswith(f"{pid}-") for s in sids)
    assert [f for _pid, _s, fs, _p in results for f in fs] == parent_fired
    # the parent's sessions are untouched and still work
    assert [s.session.sid for s in fresh._durable._strata if s.session is not None] == parent_sids
    assert fresh._durable.idle_check() == []
    assert [_fired(fresh.evaluate(p)) for p in patients[:3]] == parent_fired[:3]
