"""Issue 14 over the real HTTP server: the Questionnaire, QuestionnaireResponses in, as_of, FHIR body size."""

from __future__ import annotations

import datetime
import json
from typing import Any

import carebundle  # a pinned dependency of requirements.lock: a missing install fails, never skips
import orjson
import pytest

from painpath.api.auth import Role
from painpath.facts import parse_facts
from painpath.facts.catalogue import flatten
from painpath.fhir.questionnaire import QUESTIONNAIRE_FILE
from tests.api.conftest import Service, service  # noqa: F401  (the module-scoped real server)
from tests.fhir.test_issue14_as_of_cli import old_bundle
from tests.support.questionnaire import example_patients, response_from

FHIR = "application/fhir+json"
JSON = "application/json"
TODAY = datetime.datetime.now(datetime.UTC).date()
PATIENT = "scenario/s01_seed002_ready_outpatient"


def _sections(decision: dict[str, Any]) -> dict[str, Any]:
    drop = {"decision_id", "created_at", "provenance", "fhir", "trace"}
    return {k: v for k, v in decision.items() if k not in drop}


def test_the_questionnaire_is_served_as_fhir_json_equal_to_the_repository_copy(service: Service) -> None:  # noqa: F811
    with service.client(Role.clinician) as client:
        response = client.get("/fhir/Questionnaire/painpath-msk")
        assert response.status_code == 200
        assert response.headers["content-type"] == FHIR
        assert response.json() == json.loads(QUESTIONNAIRE_FILE.read_text(encoding="utf-8"))
        openapi = client.get("/openapi.json").json()
    operation = openapi["paths"]["/fhir/Questionnaire/painpath-msk"]["get"]
    assert FHIR in operation["responses"]["200"]["content"]
    body = openapi["paths"]["/v1/evaluations"]["post"]["requestBody"]
    assert body["content"][FHIR]["x-painpath-also"] == {"$ref": "#/components/schemas/FhirQuestionnaireResponse"}
    assert "QuestionnaireResponse" in body["description"]
    assert openapi["components"]["schemas"]["FhirQuestionnaireResponse"]["properties"]["resourceType"] == {
        "const": "QuestionnaireResponse"
    }
    params = {p["name"] for p in openapi["paths"]["/v1/evaluations"]["post"]["parameters"]}
    assert {"as_of", "trace"} <= params


def test_the_questionnaire_needs_a_key(service: Service) -> None:  # noqa: F811
    with service.client() as client:
        assert client.get("/fhir/Questionnaire/painpath-msk").status_code == 401


def _questionnaire(service: Service) -> dict[str, Any]:  # noqa: F811
    with service.client(Role.clinician) as client:
        doc: dict[str, Any] = client.get("/fhir/Questionnaire/painpath-msk").json()
    return doc


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_questionnaire_response_gives_the_decision_the_json_facts_give(service: Service, wrapped: bool) -> None:  # noqa: F811
    facts = {**example_patients()[PATIENT], "assessment_date": TODAY.isoformat()}
    with service.client(Role.clinician) as client:
        as_json = client.post("/v1/evaluations", json=facts)
        assert as_json.status_code == 201, as_json.text
        assert as_json.json()["status"] == "ok"
        flat = dict(flatten(parse_facts(example_patients()[PATIENT])))
        response = response_from(_questionnaire(service), flat, TODAY)
        body = response
        if wrapped:
            body = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": response}]}
        as_fhir = client.post("/v1/evaluations", content=orjson.dumps(body), headers={"content-type": FHIR})
        assert as_fhir.status_code == 201, as_fhir.text
    decision = as_fhir.json()
    assert set(decision["fhir"]["sources"]) == set(flat)
    assert not [i for i in decision["fhir"]["issues"] if i["severity"] != "information"]
    assert _sections(decision) == _sections(as_json.json())


def test_a_bad_response_is_422_naming_the_link_id(service: Service) -> None:  # noqa: F811
    response = response_from(_questionnaire(service), {"demographics.age": 52}, TODAY)
    response["item"][0]["item"].append({"linkId": "pain.intensity_nrs", "answer": [{"valueString": "six"}]})
    response["item"][0]["item"].append({"linkId": "pain.intensty_nrs", "answer": [{"valueInteger": 6}]})
    with service.client(Role.clinician) as client:
        refused = client.post("/v1/evaluations", content=orjson.dumps(response), headers={"content-type": FHIR})
    assert refused.status_code == 422, refused.text
    errors = {e["field"].removeprefix("QuestionnaireResponse/qr1#"): e for e in refused.json()["errors"]}
    assert set(errors) == {"pain.intensity_nrs", "pain.intensty_nrs"}
    assert "takes valueInteger, not valueString" in errors["pain.intensity_nrs"]["reason"]
    assert errors["pain.intensty_nrs"]["suggestion"] == "pain.intensity_nrs"


def test_as_of_measures_staleness_from_the_given_date(service: Service) -> None:  # noqa: F811
    body = orjson.dumps(old_bundle())
    with service.client(Role.clinician) as client:
        today = client.post("/v1/evaluations", content=body, headers={"content-type": FHIR})
        then = client.post("/v1/evaluations?as_of=2019-05-10", content=body, headers={"content-type": FHIR})
    assert today.status_code == 201 and then.status_code == 201, (today.text, then.text)
    assert "pain.intensity_nrs" not in today.json()["fhir"]["sources"]
    assert [i["code"] for i in today.json()["fhir"]["issues"]] == ["stale"]
    assert then.json()["fhir"]["sources"]["pain.intensity_nrs"] == "Observation/o1"
    assert then.json()["fhir"]["issues"] == []


def test_as_of_is_refused_when_it_is_not_a_date_or_the_body_is_painpath_json(service: Service) -> None:  # noqa: F811
    with service.client(Role.clinician) as client:
        bad = client.post(
            "/v1/evaluations?as_of=May-2019", content=orjson.dumps(old_bundle()), headers={"content-type": FHIR}
        )
        facts = client.post("/v1/evaluations?as_of=2019-05-10", json={"demographics": {"age": 50}})
        misspelt = client.post("/v1/evaluations?asof=2019-05-10", json={"demographics": {"age": 50}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.as_of"
    assert facts.status_code == 422 and facts.json()["errors"][0]["field"] == "query.as_of"
    assert "assessment_date" in facts.json()["errors"][0]["reason"]
    assert misspelt.status_code == 422 and misspelt.json()["errors"][0]["field"] == "query.asof"


def big_third_party_bundle(size: int) -> bytes:
    """carebundle's synthetic US Core Bundle with more of its resources until the body passes ``size`` bytes."""
    first = json.loads(carebundle.to_json(carebundle.generate_bundle(profile="anaemia", seed=1, sex="F")))
    seed = 2
    while len(orjson.dumps(first)) < size:
        more = json.loads(carebundle.to_json(carebundle.generate_bundle(profile="anaemia", seed=seed, sex="F")))
        for i, entry in enumerate(more["entry"]):
            if entry["resource"]["resourceType"] != "Patient":
                entry["fullUrl"] = f"urn:uuid:00000000-0000-4000-8000-{seed:06d}{i:06d}"
                first["entry"].append(entry)
        seed += 1
    return orjson.dumps(first)


def test_a_fhir_bundle_over_one_mib_is_accepted_and_json_keeps_its_limit(service: Service) -> None:  # noqa: F811
    body = big_third_party_bundle(1_120_000)
    assert 1_100_000 < len(body) < 16 * 1_048_576
    padded_facts = b'{"demographics": {"age": 50}, "patient_id": "' + b"x" * 100 + b'"' + b" " * 1_100_000 + b"}"
    with service.client(Role.clinician) as client:
        accepted = client.post("/v1/evaluations", content=body, headers={"content-type": FHIR})
        too_big_json = client.post("/v1/evaluations", content=padded_facts, headers={"content-type": JSON})
        too_big_fhir = client.post(
            "/v1/evaluations", content=b" " * (16 * 1_048_576 + 1), headers={"content-type": FHIR}
        )
    assert accepted.status_code == 201, accepted.text[:500]
    assert accepted.json()["fhir"]["patient"] is not None
    unknown = [i for i in accepted.json()["fhir"]["issues"] if i["code"] == "unknown-code"]
    assert unknown and all(i["severity"] == "information" for i in unknown)
    for refused, limit in ((too_big_json, 1_048_576), (too_big_fhir, 16 * 1_048_576)):
        assert refused.status_code == 413
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"] == f"request bodies are limited to {limit} bytes"
