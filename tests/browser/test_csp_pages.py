"""Every page works under the site's Content Security Policy (project/settings.py SECURE_CSP): login,
home, campaign, research, judge and rating pages, the back office and Swagger UI load in Chromium
with no CSP violation and do their job (the campaign's Close asks first; Swagger lists the API)."""

from __future__ import annotations

import pytest

from annotate.models import Campaign, User
from tests import factories
from tests.browser.conftest import login
from tests.fakes.judge_fixtures import human_vote, judge_config, make_pair, verdict

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def watched(page):
    """The page, recording CSP violations two ways: the console's reports and the DOM events."""
    page.csp_console = []
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and page.csp_console.append(m.text),
    )
    page.add_init_script(WATCH_VIOLATIONS)
    return page


def _violations(page) -> list[str]:
    return page.csp_console + page.evaluate("window.__csp || []")


def _visit(page, url: str) -> None:
    response = page.goto(url)
    assert response.status == 200, url
    assert "script-src 'self'" in response.headers["content-security-policy"], url
    page.wait_for_load_state("networkidle")
    assert _violations(page) == [], url
    assert page.js_errors == [], url


@pytest.fixture
def judged_campaign(db):
    campaign = factories.CampaignFactory(
        slug="judged", status=Campaign.Status.OPEN, judge_mode=Campaign.JudgeMode.AFTER_VOTE
    )
    judge_config(campaign, provider="demo", model="demo-judge")
    raters = [factories.UserFactory(username=f"r{i}") for i in range(2)]
    for i in range(6):
        pair = make_pair(campaign, "x" * (50 + 10 * i), "y" * (40 + 7 * i), model_a="demo-judge")
        for rater in raters:
            human_vote(pair, rater, "a" if i % 3 else "b")
        verdict(pair, "a" if i % 2 else "b")
    make_pair(campaign, "Left answer.", "Right answer.")  # one left for the rater below
    return campaign


def test_the_app_pages_run_without_csp_violations(
    live_server, watched, judged_campaign, screenshot_dir
):
    page = watched
    _visit(page, f"{live_server.url}/login/")
    factories.UserFactory(username="admin1", role=User.Role.ADMIN)
    login(page, live_server, "admin1")
    base = f"{live_server.url}/campaigns/{judged_campaign.slug}"
    for url in (f"{live_server.url}/", f"{base}/", f"{base}/research/", f"{base}/judge/"):
        _visit(page, url)
    page.goto(f"{base}/research/")
    page.wait_for_load_state("networkidle")  # the analytics fragment arrives through htmx
    assert _violations(page) == []
    page.screenshot(path=str(screenshot_dir / "csp-research.png"), full_page=True)


def test_the_rating_page_runs_and_votes_without_csp_violations(live_server, watched, campaign):
    page = watched
    rater = factories.UserFactory(username="bob")
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    for i in range(2):
        make_pair(campaign, f"Answer A {i}.", f"Answer B {i}.")
    login(page, live_server, "bob")
    _visit(page, f"{live_server.url}/campaigns/{campaign.slug}/rate/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")
    before = page.get_attribute("#workbench", "data-assignment")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "b => document.querySelector('#workbench')?.dataset.assignment !== b", arg=before
    )
    page.keyboard.press("d")  # the diff, fetched by htmx
    page.wait_for_selector("#diff:not([hidden])")
    assert _violations(page) == []
    assert page.js_errors == []


def test_closing_a_campaign_asks_first(live_server, watched, browser, judged_campaign):
    page = watched
    factories.UserFactory(username="admin1", role=User.Role.ADMIN)
    login(page, live_server, "admin1")
    url = f"{live_server.url}/campaigns/{judged_campaign.slug}/"
    _visit(page, url)
    page.click("button[value=close]")  # the page fixture dismisses the question
    assert page.dialogs == ["Close this campaign? Raters will get no more pairs."]
    judged_campaign.refresh_from_db()
    assert judged_campaign.status == Campaign.Status.OPEN

    context = browser.new_context()  # a second admin, who says yes
    other = context.new_page()
    other.on("dialog", lambda d: d.accept())
    login(other, live_server, "admin1")
    other.goto(url)
    other.click("button[value=close]")
    other.wait_for_load_state("networkidle")
    judged_campaign.refresh_from_db()
    assert judged_campaign.status == Campaign.Status.CLOSED
    context.close()


def test_the_back_office_runs_without_csp_violations(live_server, watched, judged_campaign):
    page = watched
    factories.UserFactory(
        username="root", role=User.Role.ADMIN, is_staff=True, is_superuser=True, password="pw"
    )
    page.goto(f"{live_server.url}/backoffice/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "pw")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/backoffice/")
    assert _violations(page) == []
    user = User.objects.get(username="root")
    for path in (
        "/backoffice/",
        "/backoffice/annotate/user/",
        f"/backoffice/annotate/user/{user.pk}/change/",
        "/backoffice/annotate/campaign/",
        f"/backoffice/annotate/campaign/{judged_campaign.pk}/change/",
        "/backoffice/axes/accessattempt/",
    ):
        _visit(page, f"{live_server.url}{path}")
    # The change list's select-all checkbox is wired by the admin's own scripts.
    page.goto(f"{live_server.url}/backoffice/annotate/user/")
    page.check("#action-toggle")
    assert page.is_checked("input.action-select")
    assert _violations(page) == []


def test_swagger_ui_renders_the_operations_without_csp_violations(
    live_server, watched, admin_user, screenshot_dir
):
    page = watched
    login(page, live_server, "alice")
    _visit(page, f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=15000)
    assert page.locator(".opblock").count() > 10
    assert "/api/campaigns/" in page.inner_text("#swagger-ui")
    assert _violations(page) == []
    assert page.js_errors == []
    page.screenshot(path=str(screenshot_dir / "csp-swagger.png"))
