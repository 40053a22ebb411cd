"""The only module that calls durable-rules: load the compiled rulesets and run them.

Hardened as ``research/durable-rules.md`` section 6 describes (design decision D1, revised):

* the C extension is driven directly (no ``engine.Host``), so no background timer threads exist;
* every pattern is guarded by a fact ``kind``, and each ruleset has a catch-all sentinel rule so no
  patient ever "matches nothing" (that path corrupts the heap in 2.0.28); the sentinel must fire
  for every patient, or the evaluation fails;
* **one long-lived session per stratum per process**: each patient's fact carries a fresh ``id``,
  is asserted into the stratum's session, its firings are collected, and the fact is retracted.
  The guards: every retract's result is checked; every firing must carry this patient's fact id;
  any error (from durable-rules or from this code) fails the decision closed and rebuilds that
  session (``delete_state`` is called only then); a session is created lazily on first use, also
  in a forked child (the child never touches its parent's sessions); :meth:`DurableCore.idle_check`
  verifies that the sessions hold no facts between evaluations (the health check calls it);
* firings are de-duplicated (``$or`` fires once per true branch); no ``$not`` and no ``post``;
* facts are type-normalised (pydantic) and projected to the keys the stratum's rules read by
  generated code (``durable_compile``); a value that was not recorded is simply absent;
* at most a few hundred rules per ruleset (the loader enforces it; one ruleset per stratum).

The compiler (IR to durable-rules JSON, and the projection) is pure and lives in ``durable_compile``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import json
import os
import threading
import weakref
from collections.abc import Mapping
from typing import Any, Literal

import durable_rules_engine as _dre
import orjson
import structlog

from painpath.engine import ir
from painpath.engine.durable_compile import ALT, KIND, MAX_DURABLE_RULES, SENTINEL, CompiledStratum, compile_stratum
from painpath.errors import EngineError, Problem

__all__ = ["MAX_DURABLE_RULES", "DurableCore", "SessionMode"]

log = structlog.get_logger("painpath.engine")

_PROCESS_LOCK = threading.Lock()
"""durable-rules keeps its rulesets in a process-global C table, never releases the GIL and has no
locks of its own; one lock per process serialises every call sequence into it (D1). Replaced by a
fresh lock in a forked child (a thread of the parent may have held it at the fork)."""

_CORES: weakref.WeakSet[DurableCore] = weakref.WeakSet()

SessionMode = Literal["reused", "per_evaluation"]
"""``reused`` (the design): one session per stratum per process. ``per_evaluation``: a new session for
each patient and stratum, deleted after it (the first design; kept for the benchmark's comparison)."""

_WARM_UP_ID = "warm-up"


def _after_fork_in_child() -> None:
    global _PROCESS_LOCK  # noqa: PLW0603 - the lock is per process by design
    _PROCESS_LOCK = threading.Lock()
    for core in list(_CORES):
        core._forget_sessions()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _tune_allocator() -> None:
    """Keep glibc from returning each session's large index blocks to the OS.

    A session allocates roughly 10 KB per rule; above glibc's mmap threshold every new session would
    map and unmap them, which measured 4-5x slower with a long p99 tail (per-evaluation sessions).
    Raising the thresholds is process-wide but harmless; where glibc is not present this does nothing.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 256 * 1024 * 1024)
    mallopt(m_trim_threshold, 512 * 1024 * 1024)


class _Fault(Exception):
    """Something durable-rules returned that the guards do not accept."""


class _Session:
    __slots__ = ("pid", "sid", "state")

    def __init__(self, sid: str, pid: int, state: int) -> None:
        self.sid = sid
        self.pid = pid
        self.state = state


class _Stratum:
    __slots__ = ("compiled", "handle", "name", "session")

    def __init__(self, handle: int, name: str, compiled: CompiledStratum) -> None:
        self.handle = handle
        self.name = name
        self.compiled = compiled
        self.session: _Session | None = None


class DurableCore:
    """durable-rules rulesets for one ruleset and parameter set; decides which rules are definitely true.

    Safe to call from many threads: calls into the extension are serialised by one process lock.
    Rulesets cannot be unloaded from durable-rules, so create one core per ruleset version and reuse it.
    """

    _instances = itertools.count()

    def __init__(self, ruleset: ir.RulesetIR, params: Mapping[str, Any], *, sessions: SessionMode = "reused") -> None:
        _tune_allocator()
        self.mode: SessionMode = sessions
        self._ids = itertools.count()
        self._sids = itertools.count()
        self.rebuilds = 0
        """Sessions discarded after an error (each one failed an evaluation closed)."""
        self.abandoned = 0
        """Sessions discarded without ``delete_state`` (it is not safe before a session's first action)."""
        instance = next(self._instances)
        self._strata: list[_Stratum] = []
        self.definitions: list[dict[str, Any]] = []
        for stratum in ruleset.strata:
            compiled = compile_stratum(stratum, params)
            self.definitions.append(compiled.definition)
            name = f"{stratum.id}@{ruleset.content_hash[:12]}#{instance}"
            try:
                with _PROCESS_LOCK:
                    handle = _dre.create_ruleset(name, json.dumps(compiled.definition))
            except _dre.error as exc:
                raise EngineError("durable-rules rejected a compiled stratum", [Problem(stratum.id, str(exc))]) from exc
            self._strata.append(_Stratum(handle, stratum.id, compiled))
        _CORES.add(self)

    # -- one patient ------------------------------------------------------------------------------

    def project(self, index: int, facts: Mapping[str, Any], sid: str = "0", fact_id: str = "0") -> dict[str, Any]:
        """The fact asserted for stratum ``index``: only the keys its rules read, unrecorded ones absent."""
        return self._strata[index].compiled.project(facts, sid, fact_id)

    def fired(self, index: int, facts: Mapping[str, Any]) -> frozenset[str]:
        """Rule ids of stratum ``index`` that durable-rules found definitely true for ``facts``.

        Raises ``EngineError`` on any failure; the evaluation then fails closed.
        """
        stratum = self._strata[index]
        with _PROCESS_LOCK:
            if self.mode == "per_evaluation":
                return self._fired_own_session(index, stratum, facts)
            session = stratum.session
            if session is None or session.pid != os.getpid():
                session = self._open(stratum)
            fact_id = str(next(self._ids))
            try:
                text = orjson.dumps(stratum.compiled.project(facts, session.sid, fact_id)).decode()
                fired = self._run(stratum.handle, text, session.sid, fact_id)
                result = _dre.retract_fact(stratum.handle, text)
                if result[0] != 0:
                    raise _Fault(f"retract_fact returned {result[0]}")
            except Exception as exc:
                self._discard(stratum, session, exc)
                raise EngineError(
                    "durable-rules failed; the decision failed closed and the session was rebuilt",
                    [Problem(str(index), f"{type(exc).__name__}: {exc}")],
                ) from exc
        return self._checked(index, stratum, fired)

    def _fired_own_session(self, index: int, stratum: _Stratum, facts: Mapping[str, Any]) -> frozenset[str]:
        sid = f"e{next(self._sids)}"
        try:
            text = orjson.dumps(stratum.compiled.project(facts, sid, "0")).decode()
            fired = self._run(stratum.handle, text, sid, "0")
        except Exception as exc:
            raise EngineError("durable-rules failed", [Problem(str(index), f"{type(exc).__name__}: {exc}")]) from exc
        finally:
            with contextlib.suppress(_dre.error):  # no state was created for this sid: nothing to free
                _dre.delete_state(stratum.handle, sid)
        return self._checked(index, stratum, fired)

    @staticmethod
    def _run(handle: int, text: str, sid: str, fact_id: str) -> set[str]:
        """Assert one fact and run its actions; the rule names of the firings (sentinel included)."""
        head = f':{{"m":{{"sid":"{sid}","id":"{fact_id}",'
        fired: set[str] = set()
        result = _dre.assert_fact(handle, text)
        if result[0] != 0:
            raise _Fault(f"assert_fact returned {result[0]}")
        state = result[1]
        action = _dre.start_action_for_state(handle, state)
        message = action[1] if action else None
        while message:
            end = message.index('"', 2)
            if not message.startswith(head, end + 1):
                raise _Fault(f"a firing of {message[2:end]} does not carry this patient's fact (id {fact_id})")
            fired.add(message[2:end].partition(ALT)[0])
            message = _dre.complete_and_start_action(handle, state)
        if SENTINEL not in fired:
            raise _Fault("the sentinel rule did not fire")
        return fired

    @staticmethod
    def _checked(index: int, stratum: _Stratum, fired: set[str]) -> frozenset[str]:
        fired.discard(SENTINEL)
        unknown = fired - stratum.compiled.rule_ids
        if unknown:
            raise EngineError(
                "durable-rules fired rules it was not given", [Problem(str(index), ", ".join(sorted(unknown)))]
            )
        return frozenset(fired)

    # -- sessions ---------------------------------------------------------------------------------

    def _open(self, stratum: _Stratum) -> _Session:
        """Create this process's session for ``stratum`` (lock held): one warm-up fact, asserted and retracted.

        The warm-up runs the session's first action, after which ``delete_state`` is safe (before it,
        durable-rules 2.0.28 frees an uninitialised pointer, research note 4.4).
        """
        pid = os.getpid()
        sid = f"{pid}-{next(self._sids)}"
        try:
            text = orjson.dumps({"sid": sid, "id": _WARM_UP_ID, "kind": KIND}).decode()
            result = _dre.assert_fact(stratum.handle, text)
            state = result[1]
            self._run_warm_up(stratum.handle, state)
            if _dre.retract_fact(stratum.handle, text)[0] != 0 or orjson.loads(_dre.get_facts(stratum.handle, sid)):
                raise _Fault("the warm-up fact was not retracted")
        except Exception as exc:
            self.abandoned += 1
            log.error("durable_session_unusable", stratum=stratum.name, error=f"{type(exc).__name__}: {exc}")
            raise EngineError(
                "durable-rules could not open a session", [Problem(stratum.name, f"{type(exc).__name__}: {exc}")]
            ) from exc
        session = _Session(sid, pid, state)
        stratum.session = session
        return session

    @staticmethod
    def _run_warm_up(handle: int, state: int) -> None:
        action = _dre.start_action_for_state(handle, state)
        message = action[1] if action else None
        seen = False
        while message:
            seen = seen or message.startswith(f'{{"{SENTINEL}"')
            message = _dre.complete_and_start_action(handle, state)
        if not seen:
            raise _Fault("the sentinel rule did not fire for the warm-up fact")

    def _discard(self, stratum: _Stratum, session: _Session, error: BaseException) -> None:
        """Drop a session after an error (lock held): ``delete_state`` frees it; the next call opens a new one."""
        stratum.session = None
        self.rebuilds += 1
        log.error(
            "durable_session_rebuilt", stratum=stratum.name, sid=session.sid, error=f"{type(error).__name__}: {error}"
        )
        if session.pid == os.getpid():
            try:
                _dre.delete_state(stratum.handle, session.sid)
            except Exception:
                self.abandoned += 1

    def _forget_sessions(self) -> None:
        """In a forked child: the parent's sessions are not this process's; open new ones when needed."""
        for stratum in self._strata:
            stratum.session = None

    def idle_check(self) -> list[str]:
        """Problems with this process's sessions between evaluations (empty when all is well).

        Each open session must hold no facts. A session that does is reported and rebuilt, so the
        next evaluation starts clean.
        """
        problems: list[str] = []
        with _PROCESS_LOCK:
            for stratum in self._strata:
                session = stratum.session
                if session is None or session.pid != os.getpid():
                    continue
                try:
                    held = len(orjson.loads(_dre.get_facts(stratum.handle, session.sid)))
                except Exception as exc:
                    problems.append(f"stratum {stratum.name}: the session cannot be read ({type(exc).__name__})")
                    self._discard(stratum, session, exc)
                    continue
                if held:
                    problems.append(f"stratum {stratum.name}: the idle session holds {held} fact(s)")
                    self._discard(stratum, session, _Fault(f"{held} fact(s) left in an idle session"))
        return problems

    def open_sessions(self) -> int:
        """How many sessions this process has open (one per stratum used, in ``reused`` mode)."""
        pid = os.getpid()
        return sum(1 for s in self._strata if s.session is not None and s.session.pid == pid)
