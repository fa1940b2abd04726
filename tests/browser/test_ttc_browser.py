"""Test-time compute in Chromium: the demo's accuracy-versus-N page passes axe-core's WCAG 2.1 AA
checks and is photographed; a rater opens the reasoning traces with the keyboard."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from annotate.management.commands.seed_demo import TTC_SLUG, _ttc_create
from annotate.models import Candidate, User
from tests import factories
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _axe_violations(page) -> str:
    results = Axe().run(page, options=WCAG_AA)
    return "" if results.violations_count == 0 else results.generate_report()


def test_the_demo_curves_page_is_accessible(live_server, transactional_db, page, screenshot_dir):
    admin = factories.UserFactory(username="admin1", role=User.Role.ADMIN)
    _ttc_create(admin=admin)
    login(page, live_server, "admin1")
    page.goto(f"{live_server.url}/campaigns/{TTC_SLUG}/ttc/")
    page.wait_for_selector("#curves svg", timeout=20_000)  # the curves arrive by htmx
    text = page.locator("#curves").inner_text()
    for label in ("Majority vote", "Judge (listwise)", "Verifier score", "pass@N"):
        assert label in text
    assert "/prompt" in text and "[" in text  # costs and intervals in the table
    assert page.locator("#ttc-samples tbody tr").count() > 0
    assert _axe_violations(page) == ""
    page.screenshot(path=str(screenshot_dir / "ttc_page.png"), full_page=True)
    assert not page.js_errors


def test_a_rater_opens_the_reasoning_with_a_key(live_server, transactional_db, page):
    campaign = factories.CampaignFactory(
        slug="think", guidelines_html="", reasoning_for_raters=True
    )
    rater = factories.UserFactory(username="rater1")
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    pair = factories.PairFactory(campaign=campaign)
    for cid in (pair.candidate_a_id, pair.candidate_b_id):
        Candidate.objects.filter(id=cid).update(
            reasoning="Step one.", reasoning_html=f"<p>Step one of {cid}.</p>"
        )
    login(page, live_server, "rater1")
    page.goto(f"{live_server.url}/campaigns/think/rate/")
    traces = page.locator("details.reasoning")
    assert traces.count() == 2
    assert not traces.first.evaluate("d => d.open")  # the final answers first
    page.keyboard.press("e")
    assert all(traces.nth(i).evaluate("d => d.open") for i in range(2))
    page.keyboard.press("e")
    assert not any(traces.nth(i).evaluate("d => d.open") for i in range(2))
    page.keyboard.press("?")
    assert "open / close the reasoning of both responses" in page.locator("#help").inner_text()
    assert _axe_violations(page) == ""
    assert not page.js_errors
