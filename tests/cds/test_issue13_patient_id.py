"""Issue 13 leftover: ``context.patientId`` goes into prefetch query URLs, so it must be a FHIR id.

A value such as ``1&_include=*`` or ``../Observation`` would change the query painpath sends to
the client's FHIR server with the client's token. It is refused with a 400 OperationOutcome
naming ``context.patientId``, before anything is fetched.
"""

from __future__ import annotations

import pytest

from painpath.cds.services import InvalidToken, load_catalogue
from tests.api.conftest import Service
from tests.cds.hook_requests import call, hook_request

BAD_IDS = ["1&_include=*", "../Observation", "a b", "pp/1001", "x" * 65, "", "p%2F1"]


@pytest.mark.parametrize("hook", ["patient-view", "order-sign"])
@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_patient_id_that_is_not_a_fhir_id_is_a_400_naming_it(gp_service: Service, hook: str, bad: str) -> None:
    body = hook_request(hook)
    body["context"]["patientId"] = bad
    # nothing prefetched, a FHIR server to fetch from: the id would have gone into its URLs
    body["prefetch"] = {}
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    response = call(gp_service, body)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert any("context.patientId" in e for issue in outcome["issue"] for e in issue.get("expression", []))


def test_a_fhir_id_is_accepted(gp_service: Service) -> None:
    body = hook_request("patient-view", pid="Pp-1001.a")
    assert call(gp_service, body).status_code == 200


@pytest.mark.parametrize("bad", BAD_IDS)
def test_the_prefetch_query_never_takes_a_value_that_is_not_a_fhir_id(bad: str) -> None:
    catalogue = load_catalogue()
    with pytest.raises(InvalidToken):
        catalogue.query("observations", {"patientId": bad})
    assert catalogue.query("patient", {"patientId": "pp-1001"}) == "Patient/pp-1001"
