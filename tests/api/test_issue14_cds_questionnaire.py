"""Issue 14: a QuestionnaireResponse to painpath-msk in a CDS Hooks prefetch, through the real server.

Answered with the same items, a response to painpath's Questionnaire gives the same cards as the
fixture's response to another questionnaire; one that does not fit the Questionnaire is refused
with an OperationOutcome naming the linkId.
"""

from __future__ import annotations

from typing import Any

from painpath.cds.models import HookResponse
from painpath.fhir import QUESTIONNAIRE_URL
from tests.api.conftest import Service
from tests.api.test_cds_hooks import call, gp_service, hook_request  # noqa: F401  (the module-scoped server)

SERVICE = "painpath-referral-sign"


def _response(body: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = body["prefetch"]["questionnaireResponses"]["entry"][0]["resource"]
    return resource


def _cards(response: Any) -> list[tuple[str, str]]:
    return [(c.indicator, c.summary) for c in HookResponse.model_validate(response.json()).cards]


def test_a_painpath_questionnaire_response_in_prefetch_gives_the_same_cards(gp_service: Service) -> None:  # noqa: F811
    plain = hook_request("order_sign_cauda_equina")
    ours = hook_request("order_sign_cauda_equina")
    _response(ours)["questionnaire"] = QUESTIONNAIRE_URL
    before, after = call(gp_service, SERVICE, plain), call(gp_service, SERVICE, ours)
    assert before.status_code == 200 and after.status_code == 200, after.text
    assert _cards(after) == _cards(before)
    assert any(indicator == "critical" for indicator, _ in _cards(after))


def test_a_response_that_does_not_fit_is_refused_naming_the_link_id(gp_service: Service) -> None:  # noqa: F811
    body = hook_request("order_sign_cauda_equina")
    response = _response(body)
    response["questionnaire"] = QUESTIONNAIRE_URL
    assert all(i["linkId"] != "pain.intensity_nrs" for i in response["item"])
    response["item"].append({"linkId": "pain.intensity_nrs", "answer": [{"valueString": "seven"}]})
    refused = call(gp_service, SERVICE, body)
    assert refused.status_code == 422, refused.text
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert "pain.intensity_nrs" in issue["diagnostics"]
    assert "takes valueInteger, not valueString" in issue["diagnostics"]
