"""One small error hierarchy for painpath.

Every error carries structured ``problems`` (location, message, suggestion) so that callers (the CLI,
the HTTP API) can report *which* field is wrong and *why* without parsing text. Mapping to exit
codes or HTTP statuses happens only at the edges.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what is wrong, and a hint when cheap."""

    location: str
    message: str
    suggestion: str | None = None
    file: str | None = None
    rule_id: str | None = None

    def render(self) -> str:
        """Return a one-line human-readable form: ``file: rule: location: message (did you mean X?)``."""
        parts = [p for p in (self.file, self.rule_id, self.location) if p]
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return text

    def as_dict(self) -> dict[str, str]:
        """Return the problem as a JSON-ready mapping, omitting empty parts."""
        out = {"location": self.location, "message": self.message}
        for key in ("suggestion", "file", "rule_id"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


class PainpathError(Exception):
    """Base of all painpath errors; carries the list of problems found."""

    def __init__(self, summary: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(summary)
        self.summary = summary
        self.problems: tuple[Problem, ...] = tuple(problems)

    def __str__(self) -> str:
        if not self.problems:
            return self.summary
        lines = [self.summary] + [f"  - {p.render()}" for p in self.problems]
        return "\n".join(lines)


class FactsValidationError(PainpathError):
    """Patient facts are malformed: unknown fields, out-of-range values, inconsistent totals."""


class RulesValidationError(PainpathError):
    """Rule files, guidelines, parameters or site configuration failed load-time validation."""


class SettingsError(PainpathError):
    """Invalid or unsafe settings (``PAINPATH_*``, the settings file): every command exits 4 and does not run."""


class EngineError(PainpathError):
    """The inference engine failed; the decision fails closed to manual review."""


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """Return the closest candidate to ``word`` if it is close enough to be a likely typo."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
