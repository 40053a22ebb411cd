"""What the decision log keeps so a decision can be reproduced: compact payloads and the rulesets used.

A decision's payload is one compressed stream of canonical JSON: the input as received, the facts
evaluated when they were not the input itself (a FHIR Bundle's mapped facts), the parameters and the
decision JSON as issued, each as text so every byte comes back. Decisions made with a ruleset the log
has archived are compressed with zstd and that ruleset's dictionary (whole synthetic decisions of the
same ruleset: the rule ids, texts and citations every decision repeats), which makes them about a
tenth of their size. The first byte says how: ``Z`` zstd with the ruleset's dictionary, ``D`` zlib
with the ruleset's (older) 32 KB preset dictionary, ``P`` plain zlib. Payloads written in any of
these forms stay readable.

The ``rulesets`` table keeps every ruleset the log has used, by content hash: its files' text, so a
decision made before an upgrade can be re-evaluated with the rules it was made with, and its
dictionaries, which never change once archived.

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
import zstandard
from sqlalchemy import Engine, insert, select, update

from painpath.store.database import unavailable_on_error
from painpath.store.tables import rulesets

_PLAIN = b"P"
_DICT = b"D"
_ZSTD = b"Z"
LEVEL = 9
"""zlib's level (rulesets' files, and payloads of rulesets without a zstd dictionary)."""
ZSTD_LEVEL = 3
"""zstd's level for payloads: with the ruleset's dictionary level 3 is within ~15% of level 9's size at
a quarter of its time (~70 us per decision; measured in benchmarks/engine_bench.py's storage line)."""


@dataclass(frozen=True)
class Payload:
    """The decision's content, as text."""

    input_facts: str
    parameters: str
    output_json: str
    evaluated_facts: str | None = None
    """The facts JSON evaluated, when it is not ``input_facts`` (a FHIR Bundle is mapped first)."""


class ZstdCodec:
    """zstd with one ruleset's dictionary. The (not thread-safe) contexts are pooled: a thread takes one,
    or makes one when none is free, and gives it back, so there are as many as ran at once (a
    compressor with the dictionary loaded is ~0.8 MB), not one per thread that ever wrote."""

    def __init__(self, dictionary: bytes) -> None:
        self.dictionary = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        self.dictionary.precompute_compress(level=ZSTD_LEVEL)  # digested once, not at every compression
        self._compressors: list[zstandard.ZstdCompressor] = []
        self._decompressors: list[zstandard.ZstdDecompressor] = []
        self._lock = threading.Lock()

    def compress(self, data: bytes) -> bytes:
        with self._lock:
            c = self._compressors.pop() if self._compressors else None
        if c is None:
            c = zstandard.ZstdCompressor(
                level=ZSTD_LEVEL, dict_data=self.dictionary, write_checksum=True, write_dict_id=False
            )
        try:
            return c.compress(data)
        finally:
            with self._lock:
                self._compressors.append(c)

    def decompress(self, data: bytes) -> bytes:
        with self._lock:
            d = self._decompressors.pop() if self._decompressors else None
        if d is None:
            d = zstandard.ZstdDecompressor(dict_data=self.dictionary)
        try:
            return d.decompress(data)
        finally:
            with self._lock:
                self._decompressors.append(d)


def _compress(data: bytes, zdict: bytes | None, codec: ZstdCodec | None) -> bytes:
    if codec is not None:
        return _ZSTD + codec.compress(data)
    if zdict:
        c = zlib.compressobj(LEVEL, zdict=zdict)
        return _DICT + c.compress(data) + c.flush()
    return _PLAIN + zlib.compress(data, LEVEL)


def pack(payload: Payload, zdict: bytes | None = None, codec: ZstdCodec | None = None) -> bytes:
    """The payload compressed: with ``codec`` (the ruleset's zstd dictionary) when given, else zlib
    with the preset dictionary ``zdict`` if given, else plain zlib."""
    doc: dict[str, Any] = {"i": payload.input_facts, "p": payload.parameters, "o": payload.output_json}
    if payload.evaluated_facts is not None:
        doc["f"] = payload.evaluated_facts
    return _compress(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS), zdict, codec)


def unpack(blob: bytes, zdict: bytes | None = None, codec: ZstdCodec | None = None) -> Payload:
    kind, body = blob[:1], blob[1:]
    if kind == _ZSTD:
        if codec is None:
            raise ValueError("the payload needs its ruleset's zstd dictionary, which the log does not have")
        data = codec.decompress(body)
    elif kind == _DICT:
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
        self._codecs: dict[str, ZstdCodec | None] = {}
        self._lock = threading.Lock()

    def archive(
        self,
        content_hash: str,
        name: str,
        version: str,
        files: Mapping[str, str],
        *,
        zstd_dict: bytes | None = None,
    ) -> bool:
        """Keep a ruleset's files (if not kept already); True when this call added it.

        A ruleset archived before zstd dictionaries existed gets ``zstd_dict`` now (the only change
        ever made to an archived row: its payloads written so far keep their own format)."""
        with unavailable_on_error("archiving a ruleset"), self._engine.begin() as conn:
            row = conn.execute(
                select(rulesets.c.content_hash, rulesets.c.zstd_dict).where(rulesets.c.content_hash == content_hash)
            ).first()
            if row is not None:
                if row.zstd_dict is None and zstd_dict:
                    conn.execute(
                        update(rulesets)
                        .where(rulesets.c.content_hash == content_hash, rulesets.c.zstd_dict.is_(None))
                        .values(zstd_dict=zstd_dict)
                    )
                    self._forget(content_hash)
                return False
            conn.execute(
                insert(rulesets),
                {
                    "content_hash": content_hash,
                    "name": name,
                    "version": version,
                    "archived_at": datetime.datetime.now(datetime.UTC),
                    "files": zlib.compress(orjson.dumps(dict(files), option=orjson.OPT_SORT_KEYS), LEVEL),
                    "zdict": None,  # the zlib dictionary of payloads written before zstd ("D")
                    "zstd_dict": zstd_dict,
                },
            )
        self._forget(content_hash)
        return True

    def _forget(self, content_hash: str) -> None:
        with self._lock:
            self._zdicts.pop(content_hash, None)
            self._codecs.pop(content_hash, None)

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

    def kept(self, content_hash: str) -> tuple[bool, bool]:
        """Whether a ruleset is archived, and whether it has its zstd dictionary."""
        with unavailable_on_error("reading a ruleset"), self._engine.connect() as conn:
            row = conn.execute(
                select(rulesets.c.zstd_dict.is_not(None)).where(rulesets.c.content_hash == content_hash)
            ).first()
        return (False, False) if row is None else (True, bool(row[0]))

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

    def codec(self, content_hash: str) -> ZstdCodec | None:
        """The zstd codec of a ruleset's payloads, ``None`` without a zstd dictionary (cached, like ``zdict``)."""
        with self._lock:
            if content_hash in self._codecs:
                return self._codecs[content_hash]
        with unavailable_on_error("reading a ruleset"), self._engine.connect() as conn:
            value = conn.execute(select(rulesets.c.zstd_dict).where(rulesets.c.content_hash == content_hash)).scalar()
        codec = ZstdCodec(value) if value else None
        with self._lock:
            self._codecs[content_hash] = codec
        return codec
