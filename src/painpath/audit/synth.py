"""A seeded SYNTHETIC cohort of patient facts, for demos, audits and benchmarks.

Every fact in the catalogue (``painpath.facts.CATALOGUE``) may appear, so new facts are exercised
without code changes. How often a fact is recorded, and what it says, comes from
``synth_rates.yaml`` beside this module: each rate is documented there with its source, or marked
as an assumption. Patients are labelled ``SYNTHETIC-<seed>-<n>``; none of them is real.

The same seed always gives the same cohort (Python's ``random.Random``), and every patient is valid
for ``painpath.facts.parse_facts``.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TextIO

import yaml

from painpath.errors import FactsValidationError
from painpath.facts import CATALOGUE, parse_facts, unflatten
from painpath.facts.catalogue import FactSpec

RATES_FILE = Path(__file__).with_name("synth_rates.yaml")
ID_PREFIX = "SYNTHETIC-"
"""Every synthetic patient id starts with this; reports label a cohort made only of them as synthetic."""
_NUMBER_CAP = 120.0


@dataclass(frozen=True)
class Rates:
    """The rates of ``synth_rates.yaml``, read once."""

    fully_recorded: float
    groups: Mapping[str, Mapping[str, float]]
    boolean_true: Mapping[str, Any]
    set_members: Mapping[str, Any]
    enum_weights: Mapping[str, Mapping[str, float]]
    numbers: Mapping[str, Mapping[str, list[float]]]
    envelope: Mapping[str, Any]


@cache
def load_rates(path: Path = RATES_FILE) -> Rates:
    """Read the rates file (cached per path)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Rates(
        fully_recorded=float(data["fully_recorded"]),
        groups=data["groups"],
        boolean_true=data["boolean_true"],
        set_members=data["set_members"],
        enum_weights=data["enum_weights"],
        numbers=data["numbers"],
        envelope=data["envelope"],
    )


def _p_true(rates: Rates, path: str, group: str) -> float:
    bt = rates.boolean_true
    facts: Mapping[str, float] = bt.get("facts", {})
    if path in facts:
        return float(facts[path])
    return float(bt.get("groups", {}).get(group, bt["default"]))


def _enum(rng: random.Random, rates: Rates, spec: FactSpec) -> str:
    weights = rates.enum_weights.get(spec.path)
    if not weights:
        return rng.choice(spec.values)
    default = float(weights.get("default", 0))
    w = [float(weights.get(v, default)) for v in spec.values]
    return rng.choices(spec.values, weights=w)[0]


def _set(rng: random.Random, rates: Rates, spec: FactSpec) -> list[str]:
    per_fact = rates.set_members.get("facts", {}).get(spec.path, {})
    default = float(per_fact.get("default", rates.set_members["default"]))
    return [v for v in spec.values if rng.random() < float(per_fact.get(v, default))]


def _number(rng: random.Random, rates: Rates, spec: FactSpec) -> float:
    lo = spec.minimum if spec.minimum is not None else 0.0
    hi = min(spec.maximum if spec.maximum is not None else _NUMBER_CAP, _NUMBER_CAP)
    dist = rates.numbers.get(spec.path, {})
    if "normal" in dist:
        mean, sd = dist["normal"]
        value = rng.gauss(mean, sd)
    elif "uniform" in dist:
        a, b = dist["uniform"]
        value = rng.uniform(a, b)
    else:
        value = rng.uniform(lo, hi)
    return min(max(value, lo), hi)


def _value(rng: random.Random, rates: Rates, spec: FactSpec, group: str) -> Any:
    if spec.kind == "boolean":
        return rng.random() < _p_true(rates, spec.path, group)
    if spec.kind == "integer":
        return round(_number(rng, rates, spec))
    if spec.kind == "number":
        return round(_number(rng, rates, spec), 1)
    if spec.kind == "enum":
        return _enum(rng, rates, spec)
    return _set(rng, rates, spec)


def _drop_inconsistent(flat: dict[str, Any]) -> dict[str, Any]:
    """The nested document, without the facts of any model that rejects its own independent draws.

    Facts are drawn one by one, so an instrument's scores can contradict each other (a STarT Back
    risk group and its total); such a group of facts is left out, as if it had not been recorded.
    """
    for _ in range(len(_GROUPS_OF_FACTS)):
        doc = unflatten(flat)
        try:
            parse_facts(doc)
        except FactsValidationError as exc:
            bad = {p.location for p in exc.problems}
            flat = {k: v for k, v in flat.items() if not any(k.startswith(b + ".") or k == b for b in bad)}
            continue
        return doc
    return unflatten(flat)


_GROUPS_OF_FACTS = frozenset(path.rsplit(".", 1)[0] for path in CATALOGUE)


def synthetic_patient(rng: random.Random, rates: Rates | None = None, patient_id: str | None = None) -> dict[str, Any]:
    """One synthetic patient's facts document (nested, as ``parse_facts`` takes it)."""
    rates = rates or load_rates()
    flat: dict[str, Any] = {}
    complete = rng.random() < rates.fully_recorded
    mode: dict[str, float] = {}
    for path, spec in CATALOGUE.items():
        group = path.split(".", 1)[0]
        g = rates.groups.get(group)
        if g is None:
            continue
        if group not in mode:
            mode[group] = 1.0 if complete or rng.random() < g["complete"] else g["partial"]
        if mode[group] < 1.0 and rng.random() >= mode[group]:
            continue
        flat[path] = _value(rng, rates, spec, group)
    doc = _drop_inconsistent(flat)
    if patient_id is not None:
        doc = {"patient_id": patient_id, **doc}
    return doc


def cohort(n: int, seed: int, rates: Rates | None = None) -> Iterator[dict[str, Any]]:
    """``n`` labelled synthetic patients (``SYNTHETIC-<seed>-<k>``), reproducible from ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not security
    for k in range(1, n + 1):
        yield synthetic_patient(rng, rates, f"{ID_PREFIX}{seed}-{k}")


def envelopes(seed: int, rates: Rates | None = None) -> Iterator[dict[str, Any]]:
    """Each patient's site, clinician and assessment date, from a random stream of their own."""
    rates = rates or load_rates()
    env = rates.envelope
    rng = random.Random(f"{seed}-envelope")  # noqa: S311 - reproducible synthetic data, not security
    sites = list(env["sites"])
    weights = [float(w) for w in env["sites"].values()]
    start = datetime.date.fromisoformat(env["assessment_dates"]["start"])
    days = (datetime.date.fromisoformat(env["assessment_dates"]["end"]) - start).days
    while True:
        site = rng.choices(sites, weights=weights)[0]
        clinician = f"{site.removeprefix('SITE-')}-CLIN-{rng.randrange(int(env['clinicians_per_site'])) + 1}"
        date = start + datetime.timedelta(days=rng.randint(0, days))
        yield {"site": site, "clinician": clinician, "assessment_date": date.isoformat()}


def write_cohort(out: TextIO, n: int, seed: int) -> int:
    """Write ``n`` patients as JSON Lines to ``out``, each with its envelope; returns the number written.

    A line is the patient's facts with ``assessment_date``, plus the envelope keys ``site`` and
    ``clinician`` that the audit stratifies by (``painpath evaluate`` takes facts only).
    """
    written = 0
    for patient, envelope in zip(cohort(n, seed), envelopes(seed), strict=False):
        doc = {"patient_id": patient.pop("patient_id"), **envelope, **patient}
        out.write(json.dumps(doc, separators=(",", ":")) + "\n")
        written += 1
    return written
