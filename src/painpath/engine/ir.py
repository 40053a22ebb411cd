"""painpath's own typed form of a loaded ruleset (the IR both evaluators are compiled from).

Values here are resolved and checked: fact paths exist, operators suit the fact kind, parameters
are named (and substituted only when compiling for a parameter set), citations resolve.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from painpath.engine.language import Conclusion, Guideline, Parameter, Possible, Vector
from painpath.engine.scores import ScoreSpec
from painpath.engine.vocabulary import Vocabulary

Op = str
"""A comparison operator: one of ``vocabulary.COMPARISON_OPS``."""


@dataclass(frozen=True)
class Leaf:
    """A comparison of one fact; ``index`` numbers the leaf within its stratum."""

    index: int
    path: str
    op: Op
    value: Any
    param: str | None = None
    label: str | None = None
    proviso: bool = False
    """Unknown, it makes the rule's conclusion conditional rather than undetermined (see ``sections``)."""


@dataclass(frozen=True)
class AllNode:
    children: tuple[Node, ...]
    label: str | None = None


@dataclass(frozen=True)
class AnyNode:
    children: tuple[Node, ...]
    label: str | None = None


@dataclass(frozen=True)
class NotNode:
    child: Node
    label: str | None = None


@dataclass(frozen=True)
class AtLeastNode:
    n: int
    children: tuple[Node, ...]
    label: str | None = None


Node = Leaf | AllNode | AnyNode | NotNode | AtLeastNode


def fetcher(indices: tuple[int, ...]) -> Callable[[Sequence[int]], tuple[int, ...]]:
    """A function reading the items at ``indices`` of a sequence as a tuple (``operator.itemgetter``,
    so at C speed; its single-index form returns the item alone, hence the wrapper)."""
    if len(indices) == 1:
        only = indices[0]
        return lambda values: (values[only],)
    if not indices:
        return lambda _values: ()
    getter: Callable[[Sequence[int]], tuple[int, ...]] = operator.itemgetter(*indices)
    return getter


def positive_leaves(node: Node, positive: bool = True) -> list[Leaf]:
    """The leaves below ``node`` that support it when true (under an even number of ``not``)."""
    if isinstance(node, Leaf):
        return [node] if positive else []
    if isinstance(node, NotNode):
        return positive_leaves(node.child, not positive)
    out: list[Leaf] = []
    for child in node.children:
        out.extend(positive_leaves(child, positive))
    return out


def leaves(node: Node) -> list[Leaf]:
    """All leaves below ``node`` in order."""
    if isinstance(node, Leaf):
        return [node]
    if isinstance(node, NotNode):
        return leaves(node.child)
    out: list[Leaf] = []
    for child in node.children:
        out.extend(leaves(child))
    return out


@dataclass(frozen=True)
class Rule:
    """A loaded, resolved rule."""

    id: str
    version: str
    title: str
    status: str
    cites: tuple[str, ...]
    rationale: str
    groups: tuple[str, ...]
    when: Node
    concludes: Conclusion
    explanation: str
    vectors: tuple[Vector, ...]
    file: str
    stratum: str
    possible: Possible | None = None

    @cached_property
    def leaf_indices(self) -> tuple[int, ...]:
        """The stratum leaf-value indices of the rule's comparisons, in order."""
        return tuple(leaf.index for leaf in leaves(self.when))

    @cached_property
    def leaf_key(self) -> Callable[[Sequence[int]], tuple[int, ...]]:
        """A function of the stratum's leaf values giving the values of ``leaf_indices`` as a tuple
        (the key of the rule's memos; ``operator.itemgetter``, so built at C speed)."""
        return fetcher(self.leaf_indices)

    @cached_property
    def positive_leaf_list(self) -> tuple[Leaf, ...]:
        """``positive_leaves(self.when)``, worked out once."""
        return tuple(positive_leaves(self.when))

    @cached_property
    def proviso_leaves(self) -> tuple[Leaf, ...]:
        """The rule's comparisons marked ``proviso``, in order (see ``sections``)."""
        return tuple(leaf for leaf in leaves(self.when) if leaf.proviso)

    @cached_property
    def support_memo(self) -> dict[tuple[int, ...], list[tuple[Leaf, bool]]]:
        """Explanations already worked out, keyed by the values of ``leaf_indices`` (see ``Decision.support``)."""
        return {}

    @cached_property
    def context_memo(self) -> dict[Any, Any]:
        """What the section resolvers work out from the rule's own comparison values alone (its
        unknown facts, whether it holds but for its provisos), keyed by those values; bounded by
        ``sections``. The values repeat across patients, so most patients hit the memo."""
        return {}

    @cached_property
    def render_memo(self) -> dict[Any, Any]:
        """Rendered fragments that depend on the rule alone (its reason's JSON), built once per engine
        by ``render``; shared by every decision, so read-only to consumers."""
        return {}

    @cached_property
    def urgency(self) -> str:
        """The urgency the rule concludes, or ``""`` for conclusions without one (read once: the
        conclusions are pydantic models, whose missing-attribute lookups are slow on hot paths)."""
        return str(getattr(self.concludes, "urgency", "") or "")

    @cached_property
    def facts_used(self) -> tuple[str, ...]:
        """Every fact path the rule's condition reads, in order of first use."""
        return tuple(dict.fromkeys(leaf.path for leaf in leaves(self.when)))


@dataclass(frozen=True)
class StratumIR:
    """One stratum: its active rules, in file order, and its screen requirements."""

    id: str
    title: str
    rules: tuple[Rule, ...]
    screen_requires: tuple[str, ...] | None
    leaf_count: int


@dataclass(frozen=True)
class RulesetIR:
    """A whole loaded ruleset, hashed over its source files."""

    name: str
    version: str
    content_hash: str
    strata: tuple[StratumIR, ...]
    parameters: dict[str, Parameter]
    guidelines: dict[str, Guideline]
    vocabulary: Vocabulary
    scores: tuple[ScoreSpec, ...] = ()
    """Interpreted scores with their published bands (``rules/scores.yaml``)."""
    derived_catalogue: dict[str, tuple[str, tuple[str, ...], int]] = field(default_factory=dict)
    """Derived fact path -> (kind, vocabulary, index of the first stratum that may read it)."""
    source_root: Path | None = None
    """The directory the hashed files' relative paths start from (the rules directory's parent)."""
    source_files: tuple[Path, ...] = ()
    """Every file ``content_hash`` covers, in the order it hashes them (replay archives exactly these)."""

    def rule(self, rule_id: str) -> Rule:
        """Return the rule with this id, or raise ``KeyError``."""
        for stratum in self.strata:
            for rule in stratum.rules:
                if rule.id == rule_id:
                    return rule
        raise KeyError(rule_id)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """All active rules in evaluation order."""
        return tuple(r for s in self.strata for r in s.rules)
