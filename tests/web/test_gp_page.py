"""The GP page in a real browser: possible findings and the questions that settle them, the seed 002
patient's outpatient PMP advice, its printable referral letter, keyboard-only use and axe-core."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import yaml

from painpath.api.auth import Role
from painpath.facts import flatten, parse_facts
from tests.api.conftest import ROOT, Service
from tests.web.conftest import ONSET, SADDLE, axe_violations, sign_in

SEED_002 = ROOT / "tests" / "scenarios" / "s01_seed002_ready_outpatient.yaml"
ONSET_FIELD = "field-red_flags.ces_symptom_onset_days"


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (imported late: without Playwright the fixtures skip or fail)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def seed_002_form() -> dict[str, list[str]]:
    """The seed 002 scenario's facts as the form's field values (instruments item by item where given)."""
    raw = yaml.safe_load(SEED_002.read_text())["facts"]
    raw["care"]["referrals_requested"] = ["pain_clinic"]
    form: dict[str, list[str]] = {}
    for prefix in ("phq9", "start_back"):
        for n, v in enumerate(raw["instruments"][prefix].pop("items"), start=1):
            form[f"instruments.{prefix}.items.{n}"] = [str(v)]
    for path, value in flatten(parse_facts(raw)).items():
        if path.startswith(("instruments.phq9.", "instruments.start_back.")):
            continue  # computed from the items
        if isinstance(value, bool):
            form[path] = ["true" if value else "false"]
        elif isinstance(value, tuple):
            form[path] = list(value) or ["__none__"]  # the list question's "None of these"
        else:
            form[path] = [str(value)]
    return form


FILL = """(values) => {
    const form = document.getElementById('referral-form');
    for (const [name, wanted] of Object.entries(values)) {
        const controls = form.querySelectorAll(`[name="${CSS.escape(name)}"]`);
        if (!controls.length) { throw new Error('no field ' + name); }
        for (const c of controls) {
            if (c.type === 'radio' || c.type === 'checkbox') { c.checked = wanted.includes(c.value); }
            else { c.value = wanted[0]; }
        }
    }
    form.dispatchEvent(new Event('change', {bubbles: true}));
}"""


def test_a_sparse_first_contact_shows_possible_findings_and_what_to_ask(page: Any, web: Service) -> None:
    sign_in(page, web, Role.clinician)
    page.get_by_label("Patient reference").fill("GP-SPARSE-1")
    page.get_by_role("group", name=re.compile("Which services is the patient being referred to")).get_by_label(
        "Pain clinic"
    ).check()
    panel = page.locator("#advice-panel")
    panel.locator(".next-questions").wait_for()
    first = panel.locator(".next-questions li").first
    assert first.locator("a").get_attribute("href").startswith("#field-")
    assert "could change the urgency" in first.inner_text()  # the questions that could raise an urgency first
    assert "Pain clinic" in panel.locator(".referral-answer").inner_text()

    # saddle numbness: cauda equina is possible, at its worst-case urgency, with the questions that settle it
    page.get_by_role("group", name=SADDLE).get_by_label("Yes").check()
    possible = panel.locator(".banner-possible.banner-emergency")
    possible.wait_for()
    assert "Possible cauda equina syndrome" in possible.inner_text()
    banner = panel.locator(".emergency-banner")
    assert banner.get_attribute("role") == "alert"
    assert "possible cauda equina syndrome" in banner.inner_text().lower()
    assert panel.locator(".rf-status").inner_text() == "Possible"
    ask = possible.get_by_role("link", name=ONSET)
    assert ask.get_attribute("href") == "#" + ONSET_FIELD

    # the "ask now" link takes the GP to the field; answering it makes the emergency present
    ask.click()
    assert page.evaluate("document.activeElement.id") == ONSET_FIELD
    page.keyboard.type("3")
    present = panel.locator(".banner-present.banner-emergency")
    present.wait_for()
    assert "Cauda equina syndrome" in present.inner_text()
    assert panel.locator(".banner-possible").filter(has_text="cauda equina").count() == 0
    assert panel.locator(".rf-status").inner_text() == "Present"
    assert "cauda equina syndrome" in panel.locator(".emergency-banner").inner_text().lower()


def test_the_seed_002_patient_gets_an_outpatient_pmp_and_a_printable_letter(
    page: Any, web: Service, axe_source: str
) -> None:
    sign_in(page, web, Role.clinician)
    page.get_by_label("Patient reference").fill("GP-SEED-002")
    page.evaluate(FILL, seed_002_form())
    expect(page.locator("#pmp-headline")).to_have_text("Outpatient PMP recommended")
    panel = page.locator("#advice-panel")
    assert panel.locator(".rf-status").inner_text() == "Absent"
    assert "appropriate now" in panel.locator(".referral-answer").inner_text()
    scores = panel.locator("ul.scores").inner_text()
    assert "PHQ-9 depression severity: mild" in scores and "STarT Back risk group: medium" in scores
    # live scoring from the items, shown under the questionnaire
    assert page.locator("#score-phq9").text_content().startswith("9 of 9 items answered; total 6; PHQ-9")
    assert "medium" in page.locator("#score-start_back").text_content()
    assert panel.locator(".next-questions").count() == 0  # nothing left that would change the advice
    assert axe_violations(page, axe_source) == []

    page.get_by_role("button", name="Send referral").click()
    page.get_by_role("heading", name="Referral sent").wait_for()
    decision_id = page.locator(".message-ok code").inner_text()
    page.get_by_role("link", name="Open the printable referral summary").click()
    page.get_by_role("heading", name="Referral summary: GP-SEED-002").wait_for()
    letter = page.locator("article.letter").inner_text()
    assert decision_id in letter and "Ruleset" in letter
    assert "PMP_RECOMMENDED v" in letter and "TRI_OUTPATIENT v" in letter
    assert "Does the patient have numbness or altered sensation around the back passage" in letter
    assert "PHQ-9 depression severity" in letter
    assert axe_violations(page, axe_source) == []

    page.emulate_media(media="print")
    assert page.get_by_role("button", name="Print this summary").is_hidden()
    assert page.locator(".site-header nav").is_hidden()
    assert page.locator("table.answers").first.is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_the_letter_is_only_for_its_sender_and_decision_readers(page: Any, web: Service) -> None:
    with httpx.Client(base_url=web.url, headers={"authorization": f"Bearer {web.tokens[Role.triage]}"}) as c:
        other = c.post("/v1/evaluations", json={"demographics": {"age": 40}}).json()["decision_id"]
    sign_in(page, web, Role.clinician)
    response = page.goto(f"{web.url}/app/referral/{other}/letter")
    assert response.status == 403  # a clinician key reads only the letters it sent
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/app/login$"))
    sign_in(page, web, Role.triage)
    response = page.goto(f"{web.url}/app/referral/{other}/letter")
    assert response.status == 200
    assert "no-store" in response.headers["cache-control"]


def test_keyboard_only_answer_updates_the_advice(page: Any, web: Service) -> None:
    sign_in(page, web, Role.clinician)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # skip to main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "patient_id"
    page.keyboard.type("GP-KEYS-1")
    page.keyboard.press("Tab")  # the first topic's summary (open)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "care.referrals_requested"
    page.keyboard.press("Space")
    page.locator("#advice-panel .referral-answer").wait_for()
    # then to the patient's age, typed in
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "field-demographics.age":
            break
    else:
        pytest.fail("Tab never reached the age field")
    page.keyboard.type("15")
    expect(page.locator("#pmp-headline")).to_contain_text("not suitable")
