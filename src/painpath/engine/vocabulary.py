"""The vocabulary of a ruleset: operators (the language's), and urgencies, conclusion kinds and
section statuses (clinical, read from ``vocabulary:`` in ``rules/ruleset.yaml``).

This is the one place they are defined: the language models, the loader, the evaluators, the
section resolvers, the contract and the renderers read them from here. The clinical part is data
with citations; Python only interprets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

Polarity = Literal["positive", "negative"]

# -- operators (part of the rule language, not clinical content) ---------------------------------

COMPARISON_OPS: tuple[str, ...] = (
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "not_in",
    "contains_any",
    "contains_all",
    "recorded",
)
"""Every comparison operator, in the order a leaf's operator key is looked for."""
LIST_OPS: frozenset[str] = frozenset({"in", "not_in", "contains_any", "contains_all"})
"""Operators whose operand is a list."""
_ORDERED = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "recorded"})
KIND_OPS: Mapping[str, frozenset[str]] = {
    "boolean": frozenset({"eq", "ne", "recorded"}),
    "integer": _ORDERED,
    "number": _ORDERED,
    "enum": frozenset({"eq", "ne", "in", "not_in", "recorded"}),
    "set": frozenset({"contains_any", "contains_all", "recorded"}),
}
"""Which operators suit which kind of fact."""

SCREEN_STATUSES: tuple[str, ...] = ("present", "possible", "absent", "incomplete")
"""A screen's statuses (docs/decision-format.md): a finding fired; a finding is possible (undetermined
with positive evidence); every item answered and none positive; otherwise incomplete."""
NO_URGENCY = "none"
"""``derived.urgency.highest`` when no red flag or safety alert fired and none could."""


# -- the clinical vocabulary, from rules/ruleset.yaml --------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusSpec:
    """One status of a section, with its polarity and its plain-language label."""

    id: str
    polarity: Polarity
    label: str


@dataclass(frozen=True)
class SectionSpec:
    """A section of the decision: which conclusions resolve it and in what precedence."""

    name: str
    kind: str
    field: str
    """The conclusion's attribute that holds the status (``status`` or ``setting``)."""
    key: str | None
    """The conclusion's attribute that names the entry (pathway ``option``, adherence ``recommendation``)."""
    title: str
    statuses: tuple[StatusSpec, ...]
    """Strongest first."""
    bounded: bool
    """Whether the section gives bounded ("not now") and conditional ("provided that") answers."""
    display_order: tuple[str, ...]
    redirects: tuple[str, ...]
    items: tuple[str, ...]
    cites: tuple[str, ...]
    requested_by: str | None = None
    """A set fact naming the entries asked for (referrals): only those are answered."""
    derived: str = "none"
    """How later strata read it: ``one`` (``derived.<name>.<field>``), ``per_key`` or ``none``."""

    def derived_path(self, concludes: object) -> str | None:
        """The derived fact a conclusion of this section sets for later strata, if any."""
        if self.derived == "one":
            return f"derived.{self.name}.{self.field}"
        if self.derived == "per_key" and self.key is not None:
            return f"derived.{self.name}.{getattr(concludes, self.key)}"
        return None

    @cached_property
    def precedence(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.statuses)

    @cached_property
    def polarity(self) -> Mapping[str, Polarity]:
        return {s.id: s.polarity for s in self.statuses}

    def label(self, status: str) -> str:
        """The plain-language label of a status (``undetermined`` and others as words)."""
        for s in self.statuses:
            if s.id == status:
                return s.label
        return status.replace("_", " ")


@dataclass(frozen=True)
class Vocabulary:
    """Urgencies (most urgent first, with labels), conclusion kinds (rank, urgent) and sections."""

    urgencies: tuple[str, ...]
    urgency_labels: Mapping[str, str]
    kind_rank: Mapping[str, int]
    urgent_kinds: frozenset[str]
    sections: Mapping[str, SectionSpec]

    @cached_property
    def urgency_rank(self) -> Mapping[str, int]:
        return {u: i for i, u in enumerate(self.urgencies)}

    @cached_property
    def section_of_kind(self) -> Mapping[str, SectionSpec]:
        return {s.kind: s for s in self.sections.values()}

    def section(self, name: str) -> SectionSpec:
        return self.sections[name]


__all__ = [
    "COMPARISON_OPS",
    "KIND_OPS",
    "LIST_OPS",
    "NO_URGENCY",
    "SCREEN_STATUSES",
    "SectionSpec",
    "StatusSpec",
    "Vocabulary",
]
