"""What the decision log keeps so a decision can be reproduced: compact payloads and the rulesets used.

A decision's payload is one zlib stream (stdlib, level 9) of canonical JSON: the input as received,
the facts evaluated when they were not the input itself (a FHIR Bundle's mapped facts), the
parameters and the decision JSON as issued, each as text so every byte comes back. Decisions made
with a ruleset the log has archived are compressed with that ruleset's preset dictionary (a decision
of the same ruleset: the rule ids, texts and citations every decision repeats), which roughly halves
them. The first byte says which: ``P`` plain zlib, ``D`` the ruleset's dictionary.

The ``rulesets`` table keeps every ruleset the log has used, by content hash: its files' text, so a
decision made before an upgrade can be re-evaluated with the rules it was made with.

The store still knows nothing of the engine: it keeps and returns bytes.
"""

from __future__ import annotations

import datetime
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select

from painpath.store.database import unavailable_on_error
from painpath.store.tables import rulesets

_PLAIN = b"P"
_DICT = b"D"
LEVEL = 9


@dataclass(frozen=True)
class Payload:
    """The decision's content, as text."""

    input_facts: str
    parameters: str
    output_json: str
    evaluated_facts: str | None = None
    """The facts JSON evaluated, when it is not ``input_facts`` (a FHIR Bundle is mapped first)."""


def _compress(data: bytes, zdict: bytes | None) -> bytes:
    if zdict:
        c = zlib.compressobj(LEVEL, zdict=zdict)
        return _DICT + c.compress(data) + c.flush()
    return _PLAIN + zlib.compress(data, LEVEL)


def pack(payload: Payload, zdict: bytes | None = None) -> bytes:
    doc: dict[str, Any] = {"i": payload.input_facts, "p": payload.parameters, "o": payload.output_json}
    if payload.evaluated_facts is not None:
        doc["f"] = payload.evaluated_facts
    return _compress(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS), zdict)


def unpack(blob: bytes, zdict: bytes | None = None) -> Payload:
    kind, body = blob[:1], blob[1:]
    if kind == _DICT:
        if not zdict:
            raise ValueError("the payload needs its ruleset's dictionary, which the log does not have")
        d = zlib.decompressobj(zdict=zdict)
        data = d.decompress(body) + d.flush()
    elif kind == _PLAIN:
        data = zlib.decompress(body)
    else:
        raise ValueError(f"unknown payload format {kind!r}")
    doc = orjson.loads(data)
    return Payload(doc["i"], doc["p"], doc["o"], doc.get("f"))


@dataclass(frozen=True)
class ArchivedRuleset:
    content_hash: str
    name: str
    version: str
    archived_at: datetime.datetime
    files: Mapping[str, str]
    """Path relative to the directory holding ``rules/`` (and ``guidelines/``) -> the file's text."""


class RulesetArchive:
    """Every ruleset the decision log has used, by content hash (insert once, never changed)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._zdicts: dict[str, bytes | None] = {}
        self._lock = threading.Lock()

    def archive(
        self, content_hash: str, name: str, version: str, files: Mapping[str, str], zdict: bytes | None = None
    ) -> bool:
        """Keep a ruleset's files (if not kept already); True when this call added it."""
        with unavailable_on_error("archiving a ruleset"), self._engine.begin() as conn:
            if conn.execute(select(rulesets.c.content_hash).where(rulesets.c.content_hash == content_hash)).first():
                return False
            conn.execute(
                insert(rulesets),
                {
                    "content_hash": content_hash,
                    "name": name,
                    "version": version,
                    "archived_at": datetime.datetime.now(datetime.UTC),
                    "files": zlib.compress(orjson.dumps(dict(files), option=orjson.OPT_SORT_KEYS), LEVEL),
                    "zdict": zdict,
                },
            )
        with self._lock:
            self._zdicts.pop(content_hash, None)
        return True

    def get(self, content_hash: str) -> ArchivedRuleset | None:
        with unavailable_on_error("reading a ruleset"), self._engine.connect() as conn:
            row = conn.execute(select(rulesets).where(rulesets.c.content_hash == content_hash)).mappings().first()
        if row is None:
            return None
        return ArchivedRuleset(
            content_hash=row["content_hash"],
            name=row["name"],
            version=row["version"],
            archived_at=row["archived_at"],
            files=orjson.loads(zlib.decompress(row["files"])),
        )

    def hashes(self) -> list[str]:
        with unavailable_on_error("listing rulesets"), self._engine.connect() as conn:
            return [str(h) for h in conn.execute(select(rulesets.c.content_hash)).scalars()]

    def zdict(self, content_hash: str) -> bytes | None:
        """The preset dictionary of a ruleset's payloads (cached: it never changes once archived)."""
        with self._lock:
            if content_hash in self._zdicts:
                return self._zdicts[content_hash]
        with unavailable_on_error("reading a ruleset"), self._engine.connect() as conn:
            value = conn.execute(select(rulesets.c.zdict).where(rulesets.c.content_hash == content_hash)).scalar()
        with self._lock:
            if value is not None or content_hash not in self._zdicts:
                self._zdicts[content_hash] = value
        return value
