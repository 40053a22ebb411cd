"""The web app in a real browser (Debian's Chromium driven by Playwright) against the real server.

Each test's browser can reach this machine only: any other request is aborted and recorded.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from painpath.api.auth import Role
from tests.api.conftest import ROOT, Service
from tests.web.conftest import ONSET, SADDLE, axe_violations, sign_in

SCREENSHOTS = ROOT / "docs" / "screenshots"


def seed(web: Service) -> dict[str, str]:
    """Referrals as a GP system would send them: the example patients and a cauda equina patient."""
    out: dict[str, str] = {}
    with httpx.Client(base_url=web.url, headers={"authorization": f"Bearer {web.tokens[Role.clinician]}"}) as c:
        for i, path in enumerate(sorted((ROOT / "examples" / "patients").glob("*.json"))):
            facts = json.loads(path.read_text())
            facts["patient_id"] = f"GP-{1000 + i}"
            facts.setdefault("care", {})["referrals_requested"] = ["pmp"] if i % 2 else ["pain_clinic"]
            out[path.stem] = c.post("/v1/evaluations", json=facts).json()["decision_id"]
    return out


@pytest.fixture(scope="module")
def referrals(web: Service) -> dict[str, str]:
    return seed(web)


def test_sign_in_and_sign_out(page: Any, web: Service) -> None:
    page.goto(f"{web.url}/app/triage")
    assert "/app/login" in page.url  # not signed in: sent to the sign-in page
    sign_in(page, web, Role.triage)
    assert page.url.endswith("/app/triage")
    cookie = next(c for c in page.context.cookies() if c["name"] == "pp_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/app"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/app/login$"))
    page.goto(f"{web.url}/app/triage")
    assert "/app/login" in page.url
    assert all(c["name"] != "pp_session" for c in page.context.cookies())


def test_a_wrong_key_is_refused(page: Any, web: Service) -> None:
    page.goto(f"{web.url}/app/login")
    page.get_by_label("API key").fill("ppk_k0000000000000000.not-a-real-secret-not-a-real-secret-not-a-r")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That API key is not valid."


def test_a_clinician_cannot_open_the_worklist(page: Any, web: Service) -> None:
    sign_in(page, web, Role.clinician)
    assert page.url.endswith("/app/")
    response = page.goto(f"{web.url}/app/triage")
    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "You do not have access to this page"
    assert page.get_by_role("link", name="Triage worklist").count() == 0


def test_a_post_without_the_csrf_token_is_refused(page: Any, web: Service, referrals: dict[str, str]) -> None:
    sign_in(page, web, Role.triage)
    target = referrals["rf_cauda_equina"]
    # The browser's own cookies, but no token: what a forged cross-site form would send.
    forged = page.request.post(
        f"{web.url}/app/triage/{target}/outcome",
        form={"outcome": "returned", "returned_reason": "duplicate_referral", "reason": "forged"},
    )
    assert forged.status == 403
    assert page.request.post(f"{web.url}/app/advice", form={"red_flags.saddle_anaesthesia": "true"}).status == 403
    assert page.request.post(f"{web.url}/app/logout").status == 403
    with httpx.Client(base_url=web.url, headers={"authorization": f"Bearer {web.tokens[Role.triage]}"}) as c:
        assert c.get(f"/v1/evaluations/{target}/triage").json()["outcomes"] == []


def test_a_gp_sees_the_emergency_banner_before_sending(page: Any, web: Service) -> None:
    sign_in(page, web, Role.clinician)
    page.get_by_label("Patient reference").fill("GP-CES-1")
    saddle = page.get_by_role("group", name=SADDLE)
    saddle.get_by_label("Yes").check()
    page.get_by_label(ONSET).fill("3")
    banner = page.locator(".banner-emergency")
    banner.wait_for(timeout=10_000)
    text = banner.inner_text().lower()
    assert "emergency" in text and "cauda equina" in text
    assert page.get_by_role("alert").first.is_visible()
    # nothing was recorded yet: the advice is a draft until the referral is sent
    with httpx.Client(base_url=web.url, headers={"authorization": f"Bearer {web.tokens[Role.admin]}"}) as c:
        before = c.get("/v1/evaluations", params={"limit": 100}).json()["items"]
        assert all(i["patient_ref"] != "GP-CES-1" for i in before)
        page.get_by_role("button", name="Send referral").click()
        page.get_by_role("heading", name="Referral sent").wait_for()
        after = c.get("/v1/evaluations", params={"limit": 100}).json()["items"]
        sent = next(i for i in after if i["patient_ref"] == "GP-CES-1")
        assert sent["highest_urgency"] == "emergency"


def test_the_referral_form_is_keyboard_usable(page: Any, web: Service) -> None:
    sign_in(page, web, Role.clinician)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id || document.activeElement.tagName")
    assert focused  # focus moved into the page's content


def test_triage_filters_opens_and_redirects_a_referral(page: Any, web: Service, referrals: dict[str, str]) -> None:
    sign_in(page, web, Role.triage)
    page.get_by_role("group", name="Highest urgency").get_by_label("Emergency").check()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"urgency=emergency"))
    rows = page.locator("table.worklist tbody tr")
    assert rows.count() >= 1
    assert all("emergency" in rows.nth(i).inner_text().lower() for i in range(rows.count()))
    ces_ref = "GP-" + str(1000 + sorted(referrals).index("rf_cauda_equina"))
    page.get_by_role("link", name=ces_ref).click()
    page.get_by_role("heading", name=f"Referral {ces_ref}").wait_for()
    assert "same-day emergency assessment" in page.locator(".advice-note").inner_text()
    page.get_by_role("link", name="Show the rule trace").click()
    page.get_by_role("heading", name="Rule trace").wait_for()
    page.get_by_label("Redirected", exact=True).check()
    page.get_by_label("Redirected to").select_option("emergency_department")
    page.get_by_role("button", name="Record outcome").click()
    page.get_by_role("status").filter(has_text="The triage outcome was recorded").wait_for()
    page.get_by_role("link", name="Back to the worklist").click()
    row = page.locator("tr", has=page.get_by_role("link", name=ces_ref))
    assert "Redirected" in row.inner_text() and "Emergency department" in row.inner_text()


def test_departing_from_the_advice_asks_for_a_reason(page: Any, web: Service, referrals: dict[str, str]) -> None:
    sign_in(page, web, Role.triage)
    page.goto(f"{web.url}/app/triage/{referrals['rf_mscc']}")
    page.get_by_label("Accepted", exact=True).check()
    page.get_by_label("Accepted into").select_option("pmp")
    page.get_by_label("Setting").select_option("outpatient")
    page.get_by_role("button", name="Record outcome").click()
    alert = page.get_by_role("alert").filter(has_text="was not recorded")
    assert "departs from painpath's advice" in alert.inner_text()
    assert page.get_by_role("textbox", name=re.compile("^Reason")).get_attribute("aria-invalid") == "true"


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (None, "/app/login"),
        (Role.clinician, "/app/"),
        (Role.triage, "/app/triage"),
        (Role.triage, "/app/triage/{id}"),
    ],
)
def test_axe_finds_no_serious_violation(
    page: Any, web: Service, referrals: dict[str, str], axe_source: str, role: Role | None, path: str
) -> None:
    if role is not None:
        sign_in(page, web, role)
    page.goto(web.url + path.format(id=referrals["rf_cauda_equina"]))
    if path == "/app/":
        page.get_by_role("group", name=SADDLE).get_by_label("Yes").check()
        page.get_by_label(ONSET).fill("3")
        page.locator(".banner-emergency").wait_for()
    assert axe_violations(page, axe_source) == []


def test_the_api_reference_renders_offline(page: Any, web: Service) -> None:
    page.goto(f"{web.url}/docs")
    page.locator("#swagger-ui .information-container").wait_for(timeout=20_000)
    assert "painpath" in page.locator("#swagger-ui .info .title").inner_text()
    page.goto(f"{web.url}/redoc")
    page.get_by_role("heading", name=re.compile("painpath")).first.wait_for(timeout=20_000)
    assert page.context.external_requests == []


def test_pages_send_no_request_off_this_machine(page: Any, web: Service, referrals: dict[str, str]) -> None:
    sign_in(page, web, Role.triage)
    for path in ("/app/", "/app/triage", f"/app/triage/{referrals['rf_cauda_equina']}"):
        response = page.goto(web.url + path)
        assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.context.external_requests == []


def test_screenshots(page: Any, web: Service, referrals: dict[str, str], tmp_path: Path) -> None:
    """Screenshots at 1366x768 of the GP page with an emergency and of the worklist; into docs/screenshots
    with PAINPATH_WRITE_SCREENSHOTS=1, else a temporary directory."""
    out = SCREENSHOTS if os.environ.get("PAINPATH_WRITE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    sign_in(page, web, Role.admin)
    page.goto(f"{web.url}/app/")
    page.get_by_label("Patient reference").fill("GP-2041")
    page.get_by_role("group", name=re.compile("Which services is the patient being referred to")).get_by_label(
        "Pain clinic"
    ).check()
    page.get_by_role("group", name=SADDLE).get_by_label("Yes").check()
    page.locator(".banner-possible.banner-emergency").wait_for()  # a first contact: possible cauda equina
    page.get_by_label("Patient reference").focus()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out / "gp-referral.png"))
    page.goto(f"{web.url}/app/triage")
    page.screenshot(path=str(out / "triage-worklist.png"))
    assert (out / "gp-referral.png").stat().st_size > 10_000


@pytest.mark.parametrize("size", [(1366, 768), (820, 1180)], ids=["laptop", "tablet"])
def test_issue15_pages_fit_a_laptop_and_a_tablet_without_sideways_scrolling(
    page: Any, web: Service, referrals: dict[str, str], size: tuple[int, int]
) -> None:
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, web, Role.admin)
    for path in ("/app/", "/app/triage", f"/app/triage/{referrals['rf_cauda_equina']}"):
        page.goto(web.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, width, overflow)
    page.goto(f"{web.url}/app/")
    page.get_by_role("group", name=SADDLE).get_by_label("Yes").check()
    banner = page.locator(".banner-possible.banner-emergency")
    banner.wait_for()
    assert banner.is_visible()  # the advice panel is on the page at this width too (beside or below the form)
