"""Re-deriving a recorded decision: the rules it was made with, its facts, parameters, id and time.

The decision log keeps each decision's input, parameters and issued JSON (``store/replay.py``) and
every ruleset it has used, by content hash. :class:`Replayer` re-evaluates a recorded decision with
the ruleset it was made with (loaded back from the archive when it is not the one running), the
same parameters (site and request overrides), the same evaluator, id and ``created_at``, and
renders it at any trace level. Before answering, it checks that the re-derived decision at the
trace level it was issued with is byte for byte what was issued; if not (another engine version,
say), it refuses rather than show a trace of another decision.

This module joins the engine and the store (neither imports the other).
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import structlog

from painpath.engine import Decision, Engine, RulesetIR, Trace, decision_to_dict, hash_files, load_ruleset
from painpath.errors import PainpathError
from painpath.facts import parse_facts, parse_facts_json
from painpath.store import DecisionRecord, Store
from painpath.store.replay import RulesetArchive
from painpath.store.retention import prune, retention_days

log = structlog.get_logger("painpath.replay")

MAX_REPLAY_ENGINES = 4
"""Engines kept for replaying older rulesets (durable-rules cannot unload a ruleset: keep this small)."""


class ReplayUnavailable(PainpathError):
    """The decision cannot be re-derived faithfully (ruleset not archived, or another result)."""


def ruleset_files(ruleset: RulesetIR) -> dict[str, str]:
    """The text of every file the ruleset's content hash covers (as the loader listed them), by path
    relative to the rules directory's parent.

    Raises ``ReplayUnavailable`` when the files on disk no longer hash to the content hash (changed
    since they were loaded).
    """
    root = ruleset.source_root
    paths = list(ruleset.source_files)
    if root is None or not paths or hash_files(root, paths) != ruleset.content_hash:
        raise ReplayUnavailable("the rules on disk changed since they were loaded; not archived")
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in paths}


def load_archived(files: Mapping[str, str], content_hash: str, into: Path) -> Engine:
    """Write an archived ruleset's files under ``into``, load them and check the content hash."""
    rules_name = next(p.split("/")[0] for p in files if p.endswith("/ruleset.yaml") and p.count("/") == 1)
    others = {p.split("/")[0] for p in files if not p.startswith(rules_name + "/")}
    for rel, text in files.items():
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    guidelines = into / (others.pop() if len(others) == 1 else "guidelines")
    ruleset = load_ruleset(into / rules_name, guidelines)
    if ruleset.content_hash != content_hash:
        raise ReplayUnavailable(f"the archived ruleset hashes to {ruleset.content_hash[:12]}, not {content_hash[:12]}")
    return Engine(ruleset)


ZSTD_DICT_PATIENTS = 16
"""Synthetic decisions in a ruleset's zstd dictionary (~820 KB with the two at the full trace). Measured
on the benchmark cohort's default decisions: with 16 their payload is ~1.4 KB, with 8 ~1.7 KB, and 40
(a dictionary 2.6 times as large) gain only ~0.1 KB more."""


ZSTD_DICT_FULL_TRACE = 2
"""Of those, decisions at the full trace (``?trace=full`` decisions are stored too)."""
_DICT_ID = "00000000-0000-0000-0000-000000000000"
_DICT_TIME = "2026-01-01T00:00:00.000+00:00"


def zstd_dict_for(engine: Engine) -> bytes:
    """The raw-content zstd dictionary of this ruleset's payloads: payload-shaped documents (the input
    and the decision as JSON text, as ``store.replay.pack`` writes them) of synthetic patients, most at
    the default trace and two at the full trace. Deterministic for a ruleset and engine version."""
    from painpath.audit.synth import cohort  # noqa: PLC0415 - only needed when archiving

    parts = []
    for i, patient in enumerate(cohort(ZSTD_DICT_PATIENTS, 20261202)):
        raw = orjson.dumps(patient).decode()
        decision = engine.evaluate(parse_facts(patient), decision_id=_DICT_ID, created_at=_DICT_TIME)
        level: Trace = "full" if i < ZSTD_DICT_FULL_TRACE else "summary"
        doc = {"i": raw, "o": orjson.dumps(decision_to_dict(decision, trace=level)).decode()}
        parts.append(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
    return b"".join(parts)


def archive_ruleset(store: Store, engine: Engine) -> bool:
    """Keep the running ruleset in the decision log's archive (once per content hash), with its
    dictionaries; True if added. A ruleset archived without a zstd dictionary gets one."""
    rs = engine.ruleset
    archive = store.decisions.rulesets
    archived, has_zstd = archive.kept(rs.content_hash)
    if archived and has_zstd:
        return False
    try:
        files = ruleset_files(rs)
    except (ReplayUnavailable, OSError) as exc:
        log.warning("ruleset_not_archived", ruleset_hash=rs.content_hash[:12], reason=str(exc))
        return False
    added = archive.archive(rs.content_hash, rs.name, rs.version, files, zstd_dict=zstd_dict_for(engine))
    log.info("ruleset_archived", ruleset_hash=rs.content_hash[:12], files=len(files), added=added)
    return added


def prepare_decision_log(store: Store, engine: Engine, rules_dir: Path) -> None:
    """At service start: archive the running ruleset, and prune past ``PAINPATH_RETENTION_DAYS`` if set."""
    archive_ruleset(store, engine)
    days = retention_days()
    if days is not None:
        pruned = prune(store.engine, days)
        log.info("decisions_pruned", older_than_days=days, pruned=pruned)


class Replayer:
    """Re-derives recorded decisions: with the running engine when it fits, else an archived ruleset."""

    def __init__(self, current: Engine, archive: RulesetArchive) -> None:
        self.current = current
        self.archive = archive
        self._engines: OrderedDict[tuple[str, str], Engine] = OrderedDict()
        self._lock = threading.Lock()

    def _base(self, content_hash: str) -> Engine:
        if content_hash == self.current.ruleset.content_hash:
            return Engine(self.current.ruleset)  # the running ruleset, without the site's parameters
        archived = self.archive.get(content_hash)
        if archived is None:
            raise ReplayUnavailable(f"ruleset {content_hash[:12]} is not in the decision log's archive")
        with tempfile.TemporaryDirectory(prefix="painpath-replay-") as tmp:
            return load_archived(archived.files, content_hash, Path(tmp))

    def engine_for(self, content_hash: str, parameters: Mapping[str, Any]) -> Engine:
        """An engine with the ruleset and parameter sources a decision was made with (cached)."""
        site = {n: p["value"] for n, p in parameters.items() if p.get("source") == "site"}
        request = {n: p["value"] for n, p in parameters.items() if p.get("source") == "request"}
        key = (content_hash, orjson.dumps([site, request], option=orjson.OPT_SORT_KEYS).decode())
        with self._lock:
            if key in self._engines:
                self._engines.move_to_end(key)
                return self._engines[key]
        if content_hash == self.current.ruleset.content_hash and not request and site == self.current._site:
            engine = self.current
        else:
            base = self._base(content_hash)
            engine = Engine(base.ruleset, site_parameters=site)
            if request:
                engine = engine.with_parameters(request)
        with self._lock:
            self._engines[key] = engine
            while len(self._engines) > MAX_REPLAY_ENGINES:
                self._engines.popitem(last=False)
        return engine

    def rederive(self, record: DecisionRecord, trace: Trace = "full") -> bytes:
        """The recorded decision re-derived at ``trace`` (UTF-8 JSON), after checking it reproduces the original."""
        issued = orjson.loads(record.output_json)
        engine = self.engine_for(record.ruleset_hash, orjson.loads(record.parameters))
        facts = parse_facts_json(record.evaluated_facts or record.input_facts)
        decision = engine.evaluate(
            facts,
            evaluator=issued["engine"]["evaluator"],
            decision_id=issued["decision_id"],
            created_at=issued["created_at"],
        )

        def render(level: Trace, legacy: bool = False) -> bytes:
            doc = decision_to_dict(decision, trace=level)
            if legacy:
                doc["rules"] = _legacy_summary_rules(decision, doc["rules"])
            for name, value in issued.items():  # members added where it was issued (FHIR report, CDS call)
                if name not in doc:
                    doc[name] = value
            return orjson.dumps(doc)

        original_level: Trace = issued.get("trace", "full")
        as_issued = record.output_json.encode("utf-8")
        legacy = original_level == "summary" and any(r.get("status") == "undetermined" for r in issued.get("rules", ()))
        if render(original_level, legacy) != as_issued:
            log.error("replay_differs", decision_id=record.decision_id, ruleset_hash=record.ruleset_hash[:12])
            raise ReplayUnavailable(
                "re-deriving the decision did not reproduce what was issued (engine "
                f"{issued['engine']['version']} then, {decision.engine_version} now)"
            )
        return render(trace)


def _legacy_summary_rules(decision: Decision, fired: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``rules`` of a summary decision as issued before 2026-12-02, which also listed each
    undetermined rule with the facts that would settle it (``missing``), in evaluation order."""
    by_id = {r["id"]: r for r in fired}
    unknown = decision.unknown_facts
    out: list[dict[str, Any]] = []
    for o in decision.outcomes:
        if o.status == "fired":
            out.append(by_id[o.rule.id])
        elif o.status == "undetermined":
            rule = o.rule
            brief = {"id": rule.id, "version": rule.version, "stratum": rule.stratum, "status": o.status}
            out.append({**brief, "missing": list(unknown[rule.id])})
    return out


_REPLAYERS: weakref.WeakKeyDictionary[Engine, Replayer] = weakref.WeakKeyDictionary()
_REPLAYERS_LOCK = threading.Lock()


def replayer_for(engine: Engine, store: Store) -> Replayer:
    """The service's replayer (one per running engine)."""
    with _REPLAYERS_LOCK:
        replayer = _REPLAYERS.get(engine)
        if replayer is None:
            replayer = _REPLAYERS[engine] = Replayer(engine, store.decisions.rulesets)
        return replayer
