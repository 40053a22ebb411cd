"""Interpreted scores (rules/scores.yaml): every band boundary, STarT Back's two dimensions, broken files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from painpath.engine.scores import Comparison, Condition, ScoreSpec, default_scores_file, interpret, load_scores
from painpath.errors import FactsValidationError, RulesValidationError
from painpath.facts import CATALOGUE, flatten, parse_facts
from painpath.facts.instruments import StartBack

ROOT = Path(__file__).resolve().parents[2]
SCORES = ROOT / "rules" / "scores.yaml"
GUIDELINE_IDS = frozenset(p.stem for p in (ROOT / "guidelines").glob("*.yaml"))


@pytest.fixture(scope="module")
def specs() -> tuple[ScoreSpec, ...]:
    return load_scores(SCORES, CATALOGUE, GUIDELINE_IDS)


def _band(specs: tuple[ScoreSpec, ...], instruments: dict[str, Any], score: str) -> str | None:
    found = interpret(specs, flatten(parse_facts({"instruments": instruments})))
    return found[score].label if score in found else None


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SCORES.read_text(encoding="utf-8"))
    return data


def _problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = tmp_path / "scores.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(RulesValidationError) as exc:
        load_scores(path, CATALOGUE, GUIDELINE_IDS)
    return [p.render() for p in exc.value.problems]


def test_the_bundled_scores_load(specs: tuple[ScoreSpec, ...]) -> None:
    assert default_scores_file().resolve() == SCORES
    assert [s.id for s in specs] == [
        "start_back_risk",
        "phq9_severity",
        "gad7_severity",
        "odi_disability",
        "isi_severity",
        "tsk17_kinesiophobia",
        "pcs_catastrophising",
        "pseq_self_efficacy",
        "csi_central_sensitisation",
        "bpi_interference",
    ]
    assert all(s.cites for s in specs)
    assert not any(s.fact.startswith("instruments.rmdq") or s.fact.startswith("instruments.peg") for s in specs)


BOUNDARIES = [
    ("phq9", "total", "phq9_severity", [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
                                         (14, "moderate"), (15, "moderately_severe"), (19, "moderately_severe"),
                                         (20, "severe"), (27, "severe")]),
    ("gad7", "total", "gad7_severity", [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
                                         (14, "moderate"), (15, "severe"), (21, "severe")]),
    ("isi", "total", "isi_severity", [(0, "none"), (7, "none"), (8, "subthreshold"), (14, "subthreshold"),
                                       (15, "moderate"), (21, "moderate"), (22, "severe"), (28, "severe")]),
    ("tsk17", "total", "tsk17_kinesiophobia", [(17, "not_high"), (37, "not_high"), (38, "high"), (68, "high")]),
    ("pcs", "total", "pcs_catastrophising", [(0, "below_threshold"), (29, "below_threshold"),
                                              (30, "clinically_relevant"), (52, "clinically_relevant")]),
    ("pseq", "total", "pseq_self_efficacy", [(0, "severe"), (19, "severe"), (20, "moderate"), (30, "moderate"),
                                              (31, "mild"), (40, "mild"), (41, "minimal"), (60, "minimal")]),
    ("csi", "total", "csi_central_sensitisation", [(0, "below_cutoff"), (39, "below_cutoff"),
                                                    (40, "suggests_central_sensitisation"),
                                                    (100, "suggests_central_sensitisation")]),
    ("odi", "percent", "odi_disability", [(0.0, "minimal"), (20.0, "minimal"), (20.5, "moderate"), (21.0, "moderate"),
                                           (40.0, "moderate"), (40.01, "severe"), (60.0, "severe"), (61.0, "crippled"),
                                           (80.0, "crippled"), (81.0, "bed_bound"), (100.0, "bed_bound")]),
    ("bpi", "interference", "bpi_interference", [(0.0, "mild"), (4.0, "mild"), (4.14, "moderate"), (6.0, "moderate"),
                                                  (6.01, "severe"), (10.0, "severe")]),
]  # fmt: skip


@pytest.mark.parametrize(("instrument", "field", "score", "cases"), BOUNDARIES, ids=[b[2] for b in BOUNDARIES])
def test_every_band_boundary(
    specs: tuple[ScoreSpec, ...], instrument: str, field: str, score: str, cases: list[tuple[float, str]]
) -> None:
    for value, label in cases:
        assert _band(specs, {instrument: {field: value}}, score) == label, (score, value)


def test_odi_from_its_total_and_the_band_records_the_value_and_cites(specs: tuple[ScoreSpec, ...]) -> None:
    found = interpret(specs, flatten(parse_facts({"instruments": {"odi": {"total": 11}}})))
    band = found["odi_disability"]
    assert (band.label, band.text, band.values, band.cites) == (
        "moderate",
        "moderate disability",
        (("instruments.odi.percent", 22.0),),
        ("fairbank-odi-2000",),
    )


def test_a_score_that_is_not_recorded_has_no_band(specs: tuple[ScoreSpec, ...]) -> None:
    assert interpret(specs, {}) == {}
    assert interpret(specs, flatten(parse_facts({"instruments": {"phq9": {"item9": 1}}}))) == {}


def test_start_back_total_3_is_low(specs: tuple[ScoreSpec, ...]) -> None:
    assert _band(specs, {"start_back": {"total": 3}}, "start_back_risk") == "low"
    assert _band(specs, {"start_back": {"total": 0}}, "start_back_risk") == "low"


def test_start_back_total_5_with_psychosocial_3_is_medium(specs: tuple[ScoreSpec, ...]) -> None:
    found = interpret(specs, flatten(parse_facts({"instruments": {"start_back": {"total": 5, "psychosocial": 3}}})))
    band = found["start_back_risk"]
    assert (band.label, band.source) == ("medium", "score")
    assert band.values == (("instruments.start_back.psychosocial", 3), ("instruments.start_back.total", 5))


def test_start_back_psychosocial_4_is_high(specs: tuple[ScoreSpec, ...]) -> None:
    assert _band(specs, {"start_back": {"psychosocial": 4}}, "start_back_risk") == "high"
    assert _band(specs, {"start_back": {"total": 6, "psychosocial": 4}}, "start_back_risk") == "high"
    assert _band(specs, {"start_back": {"items": [1, 1, 0, 0, 1, 1, 1, 1, 0]}}, "start_back_risk") == "high"


def test_start_back_undecided_without_the_subscale(specs: tuple[ScoreSpec, ...]) -> None:
    assert _band(specs, {"start_back": {"total": 5}}, "start_back_risk") is None
    assert _band(specs, {"start_back": {"psychosocial": 2}}, "start_back_risk") is None


def test_start_back_risk_entered_directly_is_that_group(specs: tuple[ScoreSpec, ...]) -> None:
    for group in ("low", "medium", "high"):
        found = interpret(specs, flatten(parse_facts({"instruments": {"start_back": {"risk": group}}})))
        band = found["start_back_risk"]
        assert (band.label, band.source, band.values) == (group, "entered", (("instruments.start_back.risk", group),))
    # a total of 5 leaves medium or high open; the entered group settles it
    assert _band(specs, {"start_back": {"total": 5, "risk": "high"}}, "start_back_risk") == "high"


@pytest.mark.parametrize(
    "start_back",
    [
        {"total": 5, "risk": "low"},
        {"total": 2, "risk": "medium"},
        {"total": 5, "psychosocial": 3, "risk": "high"},
        {"psychosocial": 4, "risk": "medium"},
        {"items": [1, 1, 0, 0, 1, 1, 1, 1, 0], "risk": "low"},
    ],
)
def test_an_entered_risk_group_that_disagrees_with_the_scores_is_invalid(start_back: dict[str, Any]) -> None:
    with pytest.raises(FactsValidationError) as exc:
        parse_facts({"instruments": {"start_back": start_back}})
    (problem,) = exc.value.problems
    assert problem.location == "instruments.start_back"
    assert problem.message.startswith(f"risk '{start_back['risk']}' disagrees with")


def test_a_psychosocial_subscale_that_cannot_fit_the_total_is_invalid() -> None:
    with pytest.raises(FactsValidationError, match="psychosocial 4 does not fit total 2"):
        parse_facts({"instruments": {"start_back": {"total": 2, "psychosocial": 4}}})


def test_the_cut_offs_agree_with_the_facts_model_and_the_rule_parameters(specs: tuple[ScoreSpec, ...]) -> None:
    params = yaml.safe_load((ROOT / "rules" / "parameters" / "pathways.yaml").read_text(encoding="utf-8"))["parameters"]
    value = {name: p["value"] for name, p in params.items()}
    by_id = {s.id: {b.label: b for b in s.bands} for s in specs}
    sb = by_id["start_back_risk"]
    low, high = sb["low"].when, sb["high"].when
    assert isinstance(low, Condition) and isinstance(high, Condition)
    (low_cmp,), (high_cmp,) = low.parts, high.parts
    assert isinstance(low_cmp, Comparison) and isinstance(high_cmp, Comparison)
    assert (low_cmp.fact, low_cmp.op) == ("instruments.start_back.total", "lte")
    assert (high_cmp.fact, high_cmp.op) == ("instruments.start_back.psychosocial", "gte")
    assert low_cmp.value == StartBack.LOW_RISK_MAX_TOTAL == value["start_back_low_risk_max_total"]
    assert high_cmp.value == StartBack.HIGH_RISK_MIN_PSYCHOSOCIAL == value["start_back_high_risk_min_psychosocial"]
    assert by_id["isi_severity"]["moderate"].low == value["isi_clinical_insomnia_min"]
    assert by_id["isi_severity"]["subthreshold"].low == value["isi_subthreshold_min"]
    assert by_id["tsk17_kinesiophobia"]["not_high"].high == value["tsk17_high_fear_above"]
    assert (
        by_id["csi_central_sensitisation"]["suggests_central_sensitisation"].low
        == value["csi_central_sensitisation_min"]
    )


# --- broken scores ------------------------------------------------------------------------------


def _score(data: dict[str, Any], sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in data["scores"] if s["id"] == sid)
    return found


def test_overlapping_bands_are_rejected(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "phq9_severity")["bands"][1]["min"] = 4
    problems = _problems(tmp_path, data)
    assert any("phq9_severity: scores[1].bands[1](mild): overlap" in p for p in problems), problems


def test_a_gap_between_bands_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "gad7_severity")["bands"][2]["min"] = 11
    problems = _problems(tmp_path, data)
    assert any("gad7_severity: scores[2].bands[2](moderate): gap" in p and "from 10" in p for p in problems), problems


def test_bands_that_stop_short_of_the_range_are_rejected(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "isi_severity")["bands"][-1]["max"] = 27
    problems = _problems(tmp_path, data)
    assert any("isi_severity" in p and "gap: nothing covers 27-28" in p for p in problems), problems


def test_a_decimal_score_needs_above_after_the_first_band(tmp_path: Path) -> None:
    data = _raw()
    band = _score(data, "odi_disability")["bands"][1]
    band["min"] = 21
    del band["above"]
    problems = _problems(tmp_path, data)
    assert any("odi_disability: scores[3].bands[1](moderate): gap" in p and "above 20" in p for p in problems)


def test_a_gap_between_when_bands_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    del _score(data, "start_back_risk")["bands"][1]  # no medium band
    data["scores"][0].pop("entered")
    problems = _problems(tmp_path, data)
    assert any("start_back_risk" in p and "gap: no band for" in p for p in problems), problems


def test_an_overlap_between_when_bands_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "start_back_risk")["bands"][0]["when"] = {"all": [{"fact": "instruments.start_back.total", "lte": 4}]}
    problems = _problems(tmp_path, data)
    assert any("start_back_risk" in p and "overlap: bands low, medium" in p for p in problems), problems


def test_an_unknown_fact_is_rejected_with_a_suggestion(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "phq9_severity")["fact"] = "instruments.phq9.totl"
    _score(data, "start_back_risk")["bands"][0]["when"]["all"][0]["fact"] = "instruments.startback.total"
    problems = _problems(tmp_path, data)
    assert any(
        "phq9_severity: scores[1].fact: 'instruments.phq9.totl' is not a fact of the catalogue"
        " (did you mean 'instruments.phq9.total'?)" in p
        for p in problems
    )
    assert any("scores[0].bands[0].when.all[0].fact: 'instruments.startback.total'" in p for p in problems)


def test_a_fact_that_is_not_a_number_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "phq9_severity")["fact"] = "mental_health.depression"
    problems = _problems(tmp_path, data)
    assert any("'mental_health.depression' is a boolean fact, not a score" in p for p in problems)


def test_an_unknown_cite_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "csi_central_sensitisation")["cites"] = ["neblett-csi-2031"]
    problems = _problems(tmp_path, data)
    assert any(
        "csi_central_sensitisation: scores[8].cites[0]: citation 'neblett-csi-2031' has no entry" in p
        and "neblett-csi-2013" in p
        for p in problems
    )


def test_duplicate_labels_and_a_mismatched_entered_fact_are_rejected(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "tsk17_kinesiophobia")["bands"][0]["label"] = "high"
    _score(data, "pcs_catastrophising")["entered"] = "instruments.start_back.risk"
    problems = _problems(tmp_path, data)
    assert any("tsk17_kinesiophobia: scores[5].bands: label 'high' is used twice" in p for p in problems)
    assert any("pcs_catastrophising: scores[6].entered" in p for p in problems)


def test_a_comparison_outside_the_fact_range_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "start_back_risk")["bands"][2]["when"]["all"][0]["gte"] = 6
    problems = _problems(tmp_path, data)
    assert any("'gte: 6' does not suit the integer fact 'instruments.start_back.psychosocial'" in p for p in problems)


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    data = _raw()
    _score(data, "phq9_severity")["cites"] = ["nobody"]
    _score(data, "gad7_severity")["bands"][0]["max"] = 5
    _score(data, "pseq_self_efficacy")["fact"] = "instruments.pseq.score"
    assert len(_problems(tmp_path, data)) == 3
