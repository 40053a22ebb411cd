"""Turning untrusted input into ``PatientFacts``, with errors that name the field and suggest a fix."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from painpath.errors import FactsValidationError, Problem, suggest
from painpath.facts.catalogue import CATALOGUE, _base_type, _unwrap_optional
from painpath.facts.patient import PatientFacts, PatientFactsFields

_LEAF_NAMES: dict[str, list[str]] = {}
for _path in CATALOGUE:
    _LEAF_NAMES.setdefault(_path.rsplit(".", 1)[-1], []).append(_path)


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = PatientFacts
    for part in loc:
        if not isinstance(part, str) or part not in model.model_fields:
            return None
        tp = _base_type(_unwrap_optional(model.model_fields[part].annotation))
        if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
            return None
        model = tp
    return model


def _suggestion(loc: tuple[int | str, ...]) -> str | None:
    if not loc or not isinstance(loc[-1], str):
        return None
    parent = _model_at(loc[:-1])
    if parent is not None:
        near = suggest(loc[-1], parent.model_fields)
        if near:
            return ".".join([*(str(p) for p in loc[:-1]), near])
    # The name may belong in another group (e.g. a red-flag answer given at the top level).
    exact = _LEAF_NAMES.get(loc[-1])
    if exact:
        return exact[0]
    near = suggest(loc[-1], _LEAF_NAMES)
    return _LEAF_NAMES[near][0] if near else None


def problems_from(error: ValidationError) -> list[Problem]:
    """Convert a pydantic error into painpath problems with paths and suggestions."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        location = ".".join(str(p) for p in loc) or "(root)"
        if item["type"] == "extra_forbidden":
            problems.append(Problem(location, "unknown field", _suggestion(loc)))
        else:
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            problems.append(Problem(location, message))
    return problems


def parse_facts(data: Any) -> PatientFacts:
    """Validate a decoded JSON/YAML object as patient facts, raising ``FactsValidationError``."""
    if not isinstance(data, dict):
        raise FactsValidationError(
            "patient facts must be a JSON object", [Problem("(root)", f"got {type(data).__name__}")]
        )
    try:
        return PatientFacts.model_validate(data)
    except ValidationError as exc:
        raise FactsValidationError("invalid patient facts", problems_from(exc)) from None


def parse_facts_json(text: str | bytes) -> PatientFacts:
    """Validate JSON text as patient facts, raising ``FactsValidationError``.

    Facts without group answers (``answered_groups``, for which the model's "before" step is the
    identity) are validated straight from the bytes; anything else, and any input the direct validator
    refuses, takes the model's full path, so group answers and every error are exactly as before.
    """
    try:
        direct = PatientFactsFields.model_validate_json(text)
    except ValidationError:
        pass  # reported by the full path below, with its own locations and suggestions
    else:
        if not direct.answered_groups:
            # validated: the same values and nested models, now as ``PatientFacts``
            return PatientFacts.model_construct(direct.model_fields_set, **direct.__dict__)
    try:
        return PatientFacts.model_validate_json(text)
    except ValidationError as exc:
        raise FactsValidationError("invalid patient facts", problems_from(exc)) from None


__all__ = ["parse_facts", "parse_facts_json", "problems_from"]
