"""The catalogue of facts a rule may name, derived from the pydantic models.

Rules are checked against this catalogue at load time: every path must exist, and the operator and
value must suit the fact's kind. ``flatten`` turns a validated ``PatientFacts`` into the flat
``{path: value}`` view that both evaluators read (``None`` values are left out: not recorded).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel

from painpath.facts.patient import PatientFacts

FactKind = Literal["boolean", "integer", "number", "enum", "set"]

_SKIPPED_FIELDS = frozenset(
    {"patient_id", "provenance", "answered_groups", "assessment_date", "items", "interference_items", "date"}
)


@dataclass(frozen=True)
class FactSpec:
    """What the catalogue knows about one fact path."""

    path: str
    kind: FactKind
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


def _unwrap_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _bounds(tp: Any, metadata: list[Any]) -> tuple[float | None, float | None]:
    lo: float | None = None
    hi: float | None = None
    found = list(metadata)
    if typing.get_origin(tp) is typing.Annotated:
        for extra in typing.get_args(tp)[1:]:
            found.append(extra)
            found.extend(getattr(extra, "metadata", []))
    for item in found:
        if isinstance(item, annotated_types.Ge):
            lo = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            hi = float(item.le)  # type: ignore[arg-type]
    return lo, hi


def _base_type(tp: Any) -> Any:
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def _walk(model: type[BaseModel], prefix: str) -> Iterator[FactSpec]:
    for name, field in model.model_fields.items():
        if name in _SKIPPED_FIELDS:
            continue
        path = f"{prefix}{name}"
        tp = _unwrap_optional(field.annotation)
        base = _base_type(tp)
        desc = field.description or ""
        if isinstance(base, type) and issubclass(base, BaseModel):
            yield from _walk(base, path + ".")
            continue
        lo, hi = _bounds(tp, list(field.metadata))
        if name == "total" and hasattr(model, "total_range"):
            lo, hi = (float(x) for x in model.total_range())
        origin = typing.get_origin(base)
        if base is bool:
            yield FactSpec(path, "boolean", description=desc)
        elif base is int:
            yield FactSpec(path, "integer", minimum=lo, maximum=hi, description=desc)
        elif base is float:
            yield FactSpec(path, "number", minimum=lo, maximum=hi, description=desc)
        elif origin is Literal:
            yield FactSpec(path, "enum", values=tuple(typing.get_args(base)), description=desc)
        elif origin is list and typing.get_origin(typing.get_args(base)[0]) is Literal:
            yield FactSpec(path, "set", values=tuple(typing.get_args(typing.get_args(base)[0])), description=desc)
        else:  # pragma: no cover - guarded by test_catalogue_covers_every_field
            raise TypeError(f"fact {path} has a type the rule language cannot use: {base!r}")


def _build() -> dict[str, FactSpec]:
    return {spec.path: spec for spec in _walk(PatientFacts, "")}


CATALOGUE: Mapping[str, FactSpec] = types.MappingProxyType(_build())
"""Every fact path a rule may name, with its kind, vocabulary and range."""

_GROUPS = tuple(sorted({p.split(".", 1)[0] for p in CATALOGUE}))


def flatten_reference(facts: PatientFacts) -> dict[str, Any]:
    """``flatten`` by way of ``model_dump``: slow and obvious, kept to check the generated one."""
    out: dict[str, Any] = {}

    def walk(data: Mapping[str, Any], prefix: str) -> None:
        for key, value in data.items():
            if value is None:
                continue
            path = prefix + key
            if isinstance(value, dict):
                walk(value, path + ".")
            elif path in CATALOGUE:
                out[path] = tuple(sorted(set(value))) if isinstance(value, list) else value

    for group in _GROUPS:
        walk(getattr(facts, group).model_dump(exclude_none=True), group + ".")
    return out


def _flatten_source() -> str:
    """Python source of ``flatten``: attribute reads along every catalogue path, nested None checks."""
    tree: dict[str, Any] = {}
    for path in CATALOGUE:
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = path
    lines = ["def flatten(f):", "    out = {}"]
    counter = [0]

    def emit(node: dict[str, Any], obj: str, indent: str) -> None:
        for name, sub in node.items():
            if isinstance(sub, dict):
                counter[0] += 1
                var = f"m{counter[0]}"
                lines.append(f"{indent}{var} = {obj}.{name}")
                lines.append(f"{indent}if {var} is not None:")
                emit(sub, var, indent + "    ")
            else:
                lines.append(f"{indent}v = {obj}.{name}")
                lines.append(f"{indent}if v is not None:")
                value = "tuple(sorted(set(v)))" if CATALOGUE[sub].kind == "set" else "v"
                lines.append(f"{indent}    out[{sub!r}] = {value}")

    emit(tree, "f", "    ")
    lines.append("    return out")
    return "\n".join(lines) + "\n"


def _compile_flatten() -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(_flatten_source(), "<painpath flatten>", "exec"), namespace)  # noqa: S102 - generated from the catalogue
    return namespace["flatten"]


_FLATTEN = _compile_flatten()


def flatten(facts: PatientFacts) -> dict[str, Any]:
    """Return ``{path: value}`` for every recorded catalogue fact (lists become sorted tuples).

    Generated from the catalogue (one attribute read per path, no serialisation); equal to
    ``flatten_reference``, which a test checks on a synthetic cohort.
    """
    out: dict[str, Any] = _FLATTEN(facts)
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The nested facts document for a ``{path: value}`` mapping (the inverse of ``flatten``)."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *groups, name = path.split(".")
        for part in groups:
            node = node.setdefault(part, {})
        node[name] = list(value) if isinstance(value, tuple) else value
    return out
