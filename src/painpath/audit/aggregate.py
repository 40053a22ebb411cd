"""What an audit folds its chunk results into: counters for the reports, subject-list part files for FHIR.

The runner fills an ``Aggregate`` and ``Subjects`` while the audit runs; the reports read them at the
end. Both sit here, below runner and report, so imports flow one way: runner -> report -> aggregate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from painpath.audit.measures import MeasureSet
from painpath.audit.worker import ChunkResult


@dataclass
class Aggregate:
    """Everything the reports need, folded in chunk by chunk (bounded whatever the cohort size)."""

    measures: MeasureSet
    sample_size: int
    n_input: int = 0
    evaluated: int = 0
    rejected: int = 0
    codes: list[Counter[str]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    first_rejected: list[tuple[int, str]] = field(default_factory=list)
    outside_period: int = 0
    undated: int = 0
    first_date: str | None = None
    last_date: str | None = None
    strata: dict[str, list[Counter[str]]] = field(default_factory=dict)
    """``<stratifier>|<value>`` -> per measure: code -> patients."""

    def __post_init__(self) -> None:
        self.codes = [Counter() for _ in self.measures.measures]

    def add(self, r: ChunkResult) -> None:
        self.n_input += r.n_input
        self.evaluated += r.evaluated
        self.rejected += len(r.rejected)
        self.outside_period += r.outside_period
        self.undated += r.undated
        if r.first_date is not None:
            self.first_date = min(self.first_date or r.first_date, r.first_date)
        if r.last_date is not None:
            self.last_date = max(self.last_date or r.last_date, r.last_date)
        for key, per_measure in r.strata.items():
            mine_strata = self.strata.setdefault(key, [Counter() for _ in self.measures.measures])
            for counter, theirs_codes in zip(mine_strata, per_measure, strict=True):
                counter.update(theirs_codes)
        self.first_rejected.extend(r.rejected[: max(0, self.sample_size - len(self.first_rejected))])
        for mine, theirs in zip(self.codes, r.codes, strict=True):
            mine.update(theirs)
        self.counts.update(r.counts)
        for key, items in r.samples.items():
            bucket = self.samples.setdefault(key, [])
            if len(bucket) < self.sample_size:
                bucket.extend(items[: self.sample_size - len(bucket)])


class Subjects:
    """Subject-list entries appended per population to part files, assembled at the end."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, IO[str]] = {}
        self.counts: Counter[str] = Counter()

    def path(self, key: str) -> Path:
        measure, _, code = key.partition("|")
        return self.dir / f"{measure}.{code or 'all'}.part"

    def add(self, key: str, entries: str) -> None:
        f = self.files.get(key)
        if f is None:
            f = self.files[key] = self.path(key).open("w", encoding="utf-8")
        elif entries:
            f.write(",")
        f.write(entries)
        self.counts[key] += 1

    def parts(self) -> dict[str, Path]:
        """The part file of every population that has entries, by key (``measure|code``; ``all|`` for the cohort)."""
        return {key: self.path(key) for key, n in self.counts.items() if n}

    def close(self) -> None:
        for f in self.files.values():
            f.close()
