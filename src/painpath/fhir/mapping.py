"""Map a FHIR R4 Bundle to ``PatientFacts``, keeping the source of every fact and every problem.

Each entry is validated with the ``fhir.resources.R4B`` model of its type (R4 JSON parses with
R4B for the resources used here). What a code means comes from the code tables (``codes.yaml``).
Nothing is dropped silently: a resource or value that is not used is reported as a
``MappingIssue`` (unknown code, conflicting or superseded values, stale or undated observations,
data-absent reasons, invalid resources), and a fact with conflicting values is left unrecorded
(unknown), never guessed.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from painpath.errors import FactsValidationError, Problem, suggest
from painpath.facts.care import CareSetting
from painpath.facts.catalogue import CATALOGUE, unflatten
from painpath.facts.parse import parse_facts
from painpath.facts.patient import PatientFacts
from painpath.fhir.codes import CodeIndex, ConditionCode, ServiceCode, default_code_index
from painpath.fhir.questionnaire import QUESTIONNAIRE_URL, ItemSpec, questionnaire_headings, questionnaire_items

Severity = Literal["error", "warning", "information"]
IssueCode = Literal[
    "invalid-resource",
    "unknown-code",
    "conflict",
    "superseded",
    "stale",
    "undated",
    "data-absent",
    "not-used",
    "invalid-value",
]

_USED_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "Observation",
        "QuestionnaireResponse",
        "MedicationStatement",
        "MedicationRequest",
        "ServiceRequest",
        "Procedure",
    }
)
_OBSERVATION_OK = frozenset({"final", "amended", "corrected", "preliminary"})
_QR_OK = frozenset({"completed", "amended"})
_ACTIVE_CONDITION = frozenset({"active", "recurrence", "relapse"})
_REQUESTED = frozenset({"draft", "active", "on-hold", "completed"})
_MAX_FIX_ROUNDS = 5
_EMPTY = object()
"""A list fact answered "none of these": recorded as an empty list (not unknown)."""


@dataclass(frozen=True)
class MappingIssue:
    """Something in the Bundle that painpath reports instead of using (or using silently)."""

    severity: Severity
    code: IssueCode
    source: str
    """The resource it concerns, e.g. ``Observation/123``."""
    message: str
    fact: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"severity": self.severity, "code": self.code, "source": self.source, "message": self.message}
        if self.fact:
            out["fact"] = self.fact
        return out


@dataclass(frozen=True)
class Referral:
    """A requested service (e.g. the draft referral of a CDS Hooks call)."""

    kind: str
    code: str
    display: str
    source: str
    status: str
    modality: str | None = None


@dataclass(frozen=True)
class FhirFacts:
    """The facts a Bundle gives, where each came from (``facts.provenance``), and what was not used."""

    facts: PatientFacts
    issues: tuple[MappingIssue, ...]
    referrals: tuple[Referral, ...] = ()
    patient_ref: str | None = None
    """The one Patient of the Bundle (e.g. ``Patient/123``), when there is exactly one."""

    @property
    def sources(self) -> Mapping[str, str]:
        """Fact path -> source resource (the same mapping as ``facts.provenance``)."""
        return self.facts.provenance or {}


@dataclass
class _Candidate:
    value: Any
    date: datetime.date | None
    source: str


@dataclass
class _Collector:
    as_of: datetime.date
    codes: CodeIndex
    max_age_days: int
    requester_setting: CareSetting | None
    candidates: dict[str, list[_Candidate]] = field(default_factory=dict)
    issues: list[MappingIssue] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    patient_ids: list[str] = field(default_factory=list)

    def add(self, path: str, value: Any, source: str, date: datetime.date | None = None) -> None:
        self.candidates.setdefault(path, []).append(_Candidate(value, date, source))

    def issue(self, severity: Severity, code: IssueCode, source: str, message: str, fact: str | None = None) -> None:
        self.issues.append(MappingIssue(severity, code, source, message, fact))


def _date(value: Any) -> datetime.date | None:
    """The calendar date of a FHIR date / dateTime / instant string (partial dates: first day)."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    parts = value[:10].split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 1
        day = int(parts[2]) if len(parts) > 2 else 1
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _codings(concept: Any) -> list[tuple[str, str, str]]:
    if not isinstance(concept, Mapping):
        return []
    return [
        (str(c.get("system", "")), str(c.get("code", "")), str(c.get("display", "")))
        for c in concept.get("coding") or []
        if isinstance(c, Mapping) and c.get("code")
    ]


def _status_code(concept: Any) -> str | None:
    codings = _codings(concept)
    return codings[0][1] if codings else None


def _describe(codings: Iterable[tuple[str, str, str]]) -> str:
    return ", ".join(f"{s or '(no system)'}|{c}" for s, c, _ in codings) or "(no code)"


def _ref(resource: Mapping[str, Any], entry: Mapping[str, Any], index: int) -> str:
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        rtype = "Resource"
    if resource.get("id"):
        return f"{rtype}/{resource['id']}"
    if entry.get("fullUrl"):
        return str(entry["fullUrl"])
    return f"Bundle.entry[{index}]"


# -- values ----------------------------------------------------------------------------------------


def _convert(col: _Collector, path: str, raw: Any, source: str) -> tuple[bool, Any]:
    """A FHIR value for fact ``path`` as the fact's type: ``(True, value)`` or ``(False, None)`` (reported)."""
    spec = CATALOGUE[path]
    value = raw
    if isinstance(raw, Mapping) and "value" in raw:  # Quantity
        value = raw["value"]
    if isinstance(raw, Mapping) and "coding" in raw:  # CodeableConcept
        codings = _codings(raw)
        if spec.kind == "boolean":
            keys = {(s, c) for s, c, _ in codings}
            if keys & col.codes.yes and not keys & col.codes.no:
                return True, True
            if keys & col.codes.no and not keys & col.codes.yes:
                return True, False
        elif spec.kind in ("enum", "set"):
            matches = {c for _s, c, _d in codings if c in spec.values}
            if len(matches) == 1:
                return True, matches.pop()
        elif spec.kind == "integer":  # a scored answer list, e.g. LOINC LA6568-5 "Not at all" -> 0
            table = col.codes.scores.get(path, {})
            found = {table[(s, c)] for s, c, _d in codings if (s, c) in table}
            if len(found) == 1:
                return True, found.pop()
        col.issue("warning", "invalid-value", source, f"coded answer {_describe(codings)} does not fit {path}", path)
        return False, None
    if isinstance(raw, Mapping) and "value" not in raw and set(raw) >= {"system", "code"}:  # Coding
        return _convert(col, path, {"coding": [raw]}, source)
    if spec.kind == "boolean" and isinstance(value, bool):
        return True, value
    if spec.kind in ("integer", "number") and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = Decimal(str(value))
        if spec.kind == "integer":
            if number != number.to_integral_value():
                col.issue("warning", "invalid-value", source, f"{path} needs a whole number, got {value}", path)
                return False, None
            return True, int(number)
        return True, float(number)
    if spec.kind in ("enum", "set") and isinstance(value, str) and value in spec.values:
        return True, value
    col.issue("warning", "invalid-value", source, f"a value of type {type(value).__name__} does not fit {path}", path)
    return False, None


def _value_of(resource: Mapping[str, Any]) -> tuple[str | None, Any]:
    for key, val in resource.items():
        if key.startswith("value") and key != "value":
            return key, val
    return None, None


def _fresh(col: _Collector, date: datetime.date | None, max_age: int, source: str, path: str) -> bool:
    if date is None:
        col.issue("warning", "undated", source, f"no date, so not used for {path}", path)
        return False
    if (col.as_of - date).days > max_age:
        col.issue(
            "warning", "stale", source, f"{date.isoformat()} is older than {max_age} days, not used for {path}", path
        )
        return False
    if date > col.as_of:
        col.issue("warning", "invalid-value", source, f"dated {date.isoformat()}, after the assessment date", path)
        return False
    return True


def _observation_fact(col: _Collector, codings: list[tuple[str, str, str]]) -> tuple[str, int] | None:
    """The fact a code stands for, and the largest age its value may have."""
    for system, code, _ in codings:
        row = col.codes.observations.get((system, code))
        if row is not None:
            return row.fact, row.max_age_days or col.max_age_days
        if system == col.codes.tables.painpath_system and code in CATALOGUE:
            return code, col.max_age_days
    return None


def _not_read(col: _Collector, codings: list[tuple[str, str, str]], source: str, what: str) -> None:
    """Report a code that sets no fact: information (no rule uses it), a warning for a painpath code."""
    known = next((col.codes.not_used[(s, c)] for s, c, _ in codings if (s, c) in col.codes.not_used), None)
    if known is not None:
        col.issue("information", "not-used", source, f"{what} {known.code} ({known.display}): no rule reads it")
    elif any(s == col.codes.tables.painpath_system for s, _c, _d in codings):
        col.issue("warning", "unknown-code", source, f"{what} {_describe(codings)} is not a painpath fact")
    else:
        col.issue("information", "unknown-code", source, f"{what} {_describe(codings)} is not in the code tables")


# -- resources -------------------------------------------------------------------------------------


def _patient(col: _Collector, res: Mapping[str, Any], source: str) -> None:
    col.patient_ids.append(source)
    gender = res.get("gender")
    if gender in ("female", "male", "other"):
        col.add("demographics.sex", gender, source)
    birth = res.get("birthDate")
    if isinstance(birth, str):
        if len(birth) < 10:
            col.issue("warning", "invalid-value", source, "partial birth date: age left unknown", "demographics.age")
            return
        born = _date(birth)
        if born is not None:
            age = col.as_of.year - born.year - ((col.as_of.month, col.as_of.day) < (born.month, born.day))
            col.add("demographics.age", age, source)


def _observation(col: _Collector, res: Mapping[str, Any], source: str) -> None:
    codings = _codings(res.get("code"))
    found = _observation_fact(col, codings)
    if found is None:
        _not_read(col, codings, source, "observation code")
        return
    path, max_age = found
    status = res.get("status")
    if status not in _OBSERVATION_OK:
        col.issue("information", "not-used", source, f"status '{status}', not used for {path}", path)
        return
    if res.get("dataAbsentReason"):
        reason = _status_code(res["dataAbsentReason"]) or "unknown"
        col.issue("information", "data-absent", source, f"{path} is absent ({reason}): left unknown", path)
        return
    date = _date(res.get("effectiveDateTime") or (res.get("effectivePeriod") or {}).get("end") or res.get("issued"))
    if not _fresh(col, date, max_age, source, path):
        return
    _key, raw = _value_of(res)
    if raw is None:
        col.issue("warning", "invalid-value", source, f"no value for {path}", path)
        return
    ok, value = _convert(col, path, raw, source)
    if ok:
        col.add(path, value, source, date)


def _questionnaire_items(items: Any) -> Iterable[Mapping[str, Any]]:
    for item in items or []:
        if isinstance(item, Mapping):
            yield item
            yield from _questionnaire_items(item.get("item"))
            for answer in item.get("answer") or []:
                yield from _questionnaire_items(answer.get("item") if isinstance(answer, Mapping) else None)


def _questionnaire_response(col: _Collector, res: Mapping[str, Any], source: str) -> None:
    status = res.get("status")
    if status not in _QR_OK:
        col.issue("information", "not-used", source, f"status '{status}': not used")
        return
    if str(res.get("questionnaire", "")).split("|", 1)[0] == QUESTIONNAIRE_URL:
        _painpath_response(col, res, source)
        return
    date = _date(res.get("authored"))
    for item in _questionnaire_items(res.get("item")):
        answers = [a for a in item.get("answer") or [] if isinstance(a, Mapping)]
        if not answers:
            continue
        link = str(item.get("linkId", "")).lstrip("/")
        path, max_age = (link, col.max_age_days) if link in CATALOGUE else (None, col.max_age_days)
        if path is None:
            for system in col.codes.tables.systems.values():
                row = col.codes.observations.get((system, link))
                if row is not None:
                    path, max_age = row.fact, row.max_age_days or col.max_age_days
        where = f"{source}#{link}"
        if path is None:
            known = next((k for (_s, c), k in col.codes.not_used.items() if c == link), None)
            if known is not None:
                col.issue("information", "not-used", where, f"item {link} ({known.display}): no rule reads it")
            else:
                col.issue("information", "unknown-code", where, f"item '{link}' is not a painpath fact or known code")
            continue
        if len(answers) != 1 and CATALOGUE[path].kind != "set":
            col.issue("warning", "invalid-value", where, f"{len(answers)} answers for {path}", path)
            continue
        if not _fresh(col, date, max_age, where, path):
            continue
        for answer in answers:
            _key, raw = _value_of(answer)
            ok, value = _convert(col, path, raw, where)
            if ok:
                col.add(path, value, source, date)


_ANSWER_KEYS: Mapping[str, str] = {
    "boolean": "valueBoolean",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "choice": "valueCoding",
}


def _answer_value(spec: ItemSpec, answer: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The fact value of one answer to a painpath Questionnaire item, or a problem (what is wrong)."""
    key, raw = _value_of(answer)
    expected = _ANSWER_KEYS[spec.type]
    if key != expected:
        article = "an" if spec.type[0] in "aeiou" else "a"
        return None, f"{article} {spec.type} question takes {expected}, not {key or 'no value'}"
    if spec.type == "choice":
        coding = (str(raw.get("system", "")), str(raw.get("code", ""))) if isinstance(raw, Mapping) else ("", "")
        if spec.options is None or coding not in spec.options:
            return None, f"{coding[0] or '(no system)'}|{coding[1]} is not one of the item's answerOptions"
        return spec.options[coding], None
    fact = CATALOGUE[spec.path]
    if spec.type == "boolean":
        return (raw, None) if isinstance(raw, bool) else (None, "valueBoolean must be true or false")
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        return None, f"{expected} must be a number"
    number = Decimal(str(raw))
    if spec.type == "integer" and number != number.to_integral_value():
        return None, "valueInteger must be a whole number"
    if fact.minimum is not None and number < Decimal(str(fact.minimum)):
        return None, f"{raw} is below the least value, {fact.minimum:g}"
    if fact.maximum is not None and number > Decimal(str(fact.maximum)):
        return None, f"{raw} is above the greatest value, {fact.maximum:g}"
    return (int(number) if spec.type == "integer" else float(number)), None


def _painpath_response(col: _Collector, res: Mapping[str, Any], source: str) -> None:
    """A response to painpath's own Questionnaire: every linkId and answer must fit it (else 422, all named)."""
    specs = questionnaire_items()
    date = _date(res.get("authored"))
    problems: list[Problem] = []
    found: list[tuple[str, list[Any]]] = []
    seen: set[str] = set()
    for item in _questionnaire_items(res.get("item")):
        link = str(item.get("linkId", ""))
        where = f"{source}#{link}"
        answers = [a for a in item.get("answer") or [] if isinstance(a, Mapping)]
        spec = specs.get(link)
        if spec is None:
            if link in questionnaire_headings():
                if answers:
                    problems.append(Problem(where, f"item '{link}' is a heading or help text: it takes no answer"))
                continue
            problems.append(
                Problem(where, f"linkId '{link}' is not an item of {QUESTIONNAIRE_URL}", suggest(link, specs))
            )
            continue
        if not answers:
            continue
        if link in seen:
            problems.append(Problem(where, f"item '{link}' is answered more than once"))
            continue
        seen.add(link)
        if len(answers) > 1 and not spec.repeats:
            problems.append(Problem(where, f"item '{link}' takes one answer, got {len(answers)}"))
            continue
        values = []
        for answer in answers:
            value, wrong = _answer_value(spec, answer)
            if wrong is not None:
                problems.append(Problem(where, f"item '{link}': {wrong}"))
            values.append(value)
        if spec.repeats and None in values and len(values) > 1:
            problems.append(Problem(where, f"item '{link}': 'none of these' cannot be given with other answers"))
        found.append((link, values))
    if problems:
        raise FactsValidationError(f"{source} does not fit the Questionnaire {QUESTIONNAIRE_URL}", problems)
    for link, values in found:
        path = specs[link].path
        row = next((o for o in col.codes.tables.observations if o.fact == path), None)
        max_age = (row.max_age_days if row else None) or col.max_age_days
        if not _fresh(col, date, max_age, f"{source}#{link}", path):
            continue
        for value in values:
            col.add(path, _EMPTY if value is None else value, source, date)


def _condition_rows(col: _Collector, codings: list[tuple[str, str, str]]) -> list[ConditionCode]:
    """Every table row the codings match (a condition may be coded in several systems)."""
    diagnoses = CATALOGUE["pain.working_diagnosis"].values
    rows = [col.codes.conditions[(s, c)] for s, c, _ in codings if (s, c) in col.codes.conditions]
    rows += [
        ConditionCode(system=s, code=c, display=c, fact="pain.working_diagnosis", value=c, verification="verified")
        for s, c, _ in codings
        if s == col.codes.tables.diagnosis_system and c in diagnoses
    ]
    return rows


def _condition(col: _Collector, res: Mapping[str, Any], source: str) -> None:
    codings = _codings(res.get("code"))
    rows = _condition_rows(col, codings)
    if not rows:
        col.issue(
            "information", "unknown-code", source, f"condition code {_describe(codings)} is not in the code tables"
        )
        return
    verification = _status_code(res.get("verificationStatus"))
    clinical = _status_code(res.get("clinicalStatus"))
    for row in rows:
        if row.recognised_only or row.fact is None:
            continue
        if verification == "entered-in-error":
            col.issue("information", "not-used", source, "entered in error", row.fact)
        elif verification == "refuted":
            if row.value is True:
                col.add(row.fact, False, source)
            else:
                col.issue("information", "not-used", source, f"refuted; says nothing about {row.fact}", row.fact)
        elif not row.any_status and clinical not in _ACTIVE_CONDITION:
            col.issue(
                "information", "not-used", source, f"clinical status '{clinical}': not used for {row.fact}", row.fact
            )
        else:
            col.add(row.fact, row.add if row.add is not None else row.value, source)


def _medication(col: _Collector, res: Mapping[str, Any], source: str) -> None:
    status = res.get("status")
    if status not in ("active", "intended") if res.get("resourceType") == "MedicationStatement" else status != "active":
        col.issue("information", "not-used", source, f"status '{status}': not a current medicine")
        return
    concept = res.get("medicationCodeableConcept")
    if concept is None:
        col.issue("warning", "not-used", source, "medicationReference is not resolved; give medicationCodeableConcept")
        return
    codings = _codings(concept)
    for system, code, _ in codings:
        row = col.codes.medication(system, code)
        if row is not None:
            col.add("care.medicines_current", row.value, source)
            return
    col.issue("information", "unknown-code", source, f"medication code {_describe(codings)} is not in the code tables")


def _service(col: _Collector, codings: list[tuple[str, str, str]]) -> ServiceCode | None:
    return next((col.codes.services[(s, c)] for s, c, _ in codings if (s, c) in col.codes.services), None)


def _service_request(col: _Collector, res: Mapping[str, Any], source: str) -> None:
    codings = _codings(res.get("code"))
    row = _service(col, codings)
    if row is None:
        col.issue("warning", "unknown-code", source, f"service code {_describe(codings)} is not in the code tables")
        return
    if row.kind is None:
        col.issue("information", "not-used", source, f"{row.display}: no rule reads this request")
        return
    status = str(res.get("status"))
    col.referrals.append(Referral(row.kind, row.code, row.display, source, status, row.modality))
    if status not in _REQUESTED:
        col.issue("information", "not-used", source, f"status '{status}': not a current request")
        return
    col.add("care.referrals_requested", row.kind, source)
    if row.kind == "imaging":
        col.add("care.imaging_requested", True, source)
        if row.modality:
            col.add("care.imaging_modality", row.modality, source)
        if col.requester_setting:
            col.add("care.imaging_requested_by", col.requester_setting, source)
    elif row.kind == "surgery":
        col.add("care.surgery_referral", True, source)


def _procedure(col: _Collector, res: Mapping[str, Any], source: str) -> None:
    codings = _codings(res.get("code"))
    treatments = CATALOGUE["care.treatments_given"].values
    found = [c for s, c, _ in codings if s == col.codes.tables.treatment_system and c in treatments]
    if not found:
        col.issue(
            "information", "unknown-code", source, f"procedure code {_describe(codings)} is not in the code tables"
        )
        return
    if res.get("status") != "completed":
        col.issue("information", "not-used", source, f"status '{res.get('status')}': not a completed treatment")
        return
    col.add("care.treatments_given", found[0], source)


_HANDLERS = {
    "Patient": _patient,
    "Observation": _observation,
    "QuestionnaireResponse": _questionnaire_response,
    "Condition": _condition,
    "MedicationStatement": _medication,
    "MedicationRequest": _medication,
    "ServiceRequest": _service_request,
    "Procedure": _procedure,
}


# -- resolution ------------------------------------------------------------------------------------


def _resolve(col: _Collector) -> tuple[dict[str, Any], dict[str, str]]:
    flat: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path, found in col.candidates.items():
        if CATALOGUE[path].kind == "set":
            flat[path] = sorted({c.value for c in found if c.value is not _EMPTY})
            sources[path] = ", ".join(dict.fromkeys(c.source for c in found))
            continue
        dated = [c for c in found if c.date is not None]
        newest = max((c.date for c in dated if c.date is not None), default=None)
        current = [c for c in found if c.date == newest] if newest is not None else found
        values = {repr(c.value) for c in current}
        if len(values) > 1:
            for c in current:
                col.issue("warning", "conflict", c.source, f"conflicting values for {path}: left unknown", path)
            continue
        chosen = current[0]
        for c in found:
            if c not in current and c.value != chosen.value:
                col.issue(
                    "information", "superseded", c.source, f"older value of {path} superseded by {chosen.source}", path
                )
        flat[path] = chosen.value
        sources[path] = ", ".join(dict.fromkeys(c.source for c in current))
    return flat, sources


def _validated(col: _Collector, flat: dict[str, Any], sources: dict[str, str]) -> PatientFacts:
    """``PatientFacts`` from the resolved values; a value the facts model refuses is reported and dropped."""
    for _round in range(_MAX_FIX_ROUNDS):
        try:
            facts = parse_facts(unflatten(flat))
        except FactsValidationError as exc:
            dropped = False
            for problem in exc.problems:
                bad = [p for p in flat if p == problem.location or p.startswith(problem.location + ".")]
                if not bad:  # a whole-instrument check (e.g. a total outside the range)
                    bad = [p for p in flat if problem.location.startswith(p.rsplit(".", 1)[0])]
                for path in bad:
                    col.issue("error", "invalid-value", sources.get(path, "Bundle"), f"{path}: {problem.message}", path)
                    flat.pop(path, None)
                    sources.pop(path, None)
                    dropped = True
            if not dropped:
                raise
            continue
        return facts.model_copy(update={"provenance": dict(sorted(sources.items())) or None})
    raise FactsValidationError("the Bundle's values could not be made into valid facts", [])


BUNDLE_TYPES = (
    "document",
    "message",
    "transaction",
    "transaction-response",
    "batch",
    "batch-response",
    "history",
    "searchset",
    "collection",
)
"""FHIR R4 ``BundleType`` (a required binding of ``Bundle.type``)."""


def _null_members(value: Any, path: str, out: list[Problem], limit: int = 20) -> None:
    """Properties whose value is JSON ``null``, which FHIR's JSON format does not allow (R4 JSON
    representation, "null values": only inside arrays, to keep primitives and their extensions aligned)."""
    if len(out) >= limit:
        return
    if isinstance(value, dict):
        for key, member in value.items():
            where = f"{path}.{key}" if path else str(key)
            if member is None:
                out.append(Problem(where, "null is not a FHIR JSON value: leave the property out instead"))
            else:
                _null_members(member, where, out, limit)
    elif isinstance(value, list):
        for i, member in enumerate(value):
            if member is not None:
                _null_members(member, f"{path}.{i}", out, limit)


def _entries(bundle: Mapping[str, Any]) -> list[Any]:
    """The entries of a Bundle whose shell (everything but the entries) is valid R4, else ``FactsValidationError``."""
    nulls: list[Problem] = []
    _null_members({k: v for k, v in bundle.items() if k != "entry"}, "", nulls)
    raw_entries = bundle.get("entry")
    for i, entry in enumerate(raw_entries if isinstance(raw_entries, list) else ()):
        if isinstance(entry, dict):
            _null_members({k: v for k, v in entry.items() if k != "resource"}, f"entry.{i}", nulls)
    if nulls:
        raise FactsValidationError("invalid FHIR Bundle", nulls)
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FactsValidationError("invalid FHIR Bundle", [Problem("entry", "must be an array of entries")])
    not_objects = [
        Problem(f"entry.{i}", "an entry must be an object") for i, e in enumerate(entries) if not isinstance(e, dict)
    ]
    if not_objects:
        raise FactsValidationError("invalid FHIR Bundle", not_objects)
    try:
        Bundle.model_validate({k: v for k, v in bundle.items() if k != "entry"})
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in e["loc"]) or "(root)", e["msg"]) for e in exc.errors(include_url=False)
        ]
        raise FactsValidationError("invalid FHIR Bundle", problems) from None
    if bundle.get("type") not in BUNDLE_TYPES:  # a required binding: the code must be one of these
        raise FactsValidationError(
            "invalid FHIR Bundle", [Problem("type", f"must be one of {', '.join(BUNDLE_TYPES)} (FHIR R4 BundleType)")]
        )
    return entries


def facts_from_bundle(
    bundle: Mapping[str, Any],
    *,
    as_of: datetime.date | None = None,
    max_age_days: int | None = None,
    requester_setting: CareSetting | None = None,
    codes: CodeIndex | None = None,
) -> FhirFacts:
    """Map a FHIR R4 ``Bundle`` (decoded JSON) to facts, sources and issues.

    ``as_of`` is the assessment date (default today, UTC): ages are computed and observations
    judged stale against it. ``max_age_days`` overrides the code tables' default age limit.
    ``requester_setting`` is the care setting of whoever requests the services in the Bundle
    (e.g. ``primary_care`` for a GP's EHR), recorded as ``care.imaging_requested_by``.

    Raises ``FactsValidationError`` when ``bundle`` is not a Bundle at all; problems with single
    resources are reported in ``issues`` instead.
    """
    codes = codes or default_code_index()
    today = as_of or datetime.datetime.now(datetime.UTC).date()
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise FactsValidationError(
            "not a FHIR Bundle", [Problem("resourceType", "expected a FHIR R4 Bundle (resourceType 'Bundle')")]
        )
    entries = _entries(bundle)
    col = _Collector(today, codes, max_age_days or codes.tables.default_max_age_days, requester_setting)
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            col.issue("error", "invalid-resource", f"Bundle.entry[{i}]", "entry without a resource")
            continue
        source = _ref(resource, entry, i)
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            col.issue("error", "invalid-resource", source, "a resource needs a resourceType (a string)")
            continue
        if rtype not in _USED_TYPES:
            col.issue("information", "not-used", source, f"{rtype[:64]} resources are not used by painpath")
            continue
        null_members: list[Problem] = []
        _null_members(dict(resource), "", null_members, limit=1)
        if null_members:
            first_null = null_members[0]
            col.issue(
                "error",
                "invalid-resource",
                source,
                f"not a valid R4 {rtype}: {first_null.location}: {first_null.message}",
            )
            continue
        try:
            get_fhir_model_class(str(rtype)).model_validate(resource)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            col.issue("error", "invalid-resource", source, f"not a valid R4 {rtype}: {where}: {first['msg']}")
            continue
        _HANDLERS[str(rtype)](col, resource, source)
    if len(set(col.patient_ids)) > 1:
        col.issue("error", "conflict", ", ".join(col.patient_ids), "more than one Patient in the Bundle")
        col.candidates.pop("demographics.age", None)
        col.candidates.pop("demographics.sex", None)
    flat, sources = _resolve(col)
    facts = _validated(col, flat, sources)
    facts = facts.model_copy(update={"assessment_date": today})
    patients = set(col.patient_ids)
    return FhirFacts(
        facts=facts,
        issues=tuple(col.issues),
        referrals=tuple(col.referrals),
        patient_ref=patients.pop() if len(patients) == 1 else None,
    )


def facts_from_fhir(
    resource: Mapping[str, Any],
    *,
    as_of: datetime.date | None = None,
    max_age_days: int | None = None,
    requester_setting: CareSetting | None = None,
    codes: CodeIndex | None = None,
) -> FhirFacts:
    """``facts_from_bundle`` for a Bundle, or for a ``QuestionnaireResponse`` on its own.

    A QuestionnaireResponse alone must be valid R4 (``FactsValidationError`` naming the element
    otherwise); it is mapped as a Bundle holding just it. Anything else is ``FactsValidationError``
    naming ``resourceType``.
    """
    if isinstance(resource, Mapping) and resource.get("resourceType") == "QuestionnaireResponse":
        try:
            get_fhir_model_class("QuestionnaireResponse").model_validate(resource)
        except ValidationError as exc:
            problems = [
                Problem(".".join(str(p) for p in e["loc"]) or "(root)", e["msg"]) for e in exc.errors(include_url=False)
            ]
            raise FactsValidationError("invalid FHIR QuestionnaireResponse", problems[:20]) from None
        resource = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}]}
    elif not isinstance(resource, Mapping) or resource.get("resourceType") != "Bundle":
        raise FactsValidationError(
            "not a FHIR Bundle or QuestionnaireResponse",
            [Problem("resourceType", "expected a FHIR R4 Bundle or QuestionnaireResponse (resourceType)")],
        )
    return facts_from_bundle(
        resource, as_of=as_of, max_age_days=max_age_days, requester_setting=requester_setting, codes=codes
    )
