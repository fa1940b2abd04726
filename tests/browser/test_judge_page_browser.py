"""The judge page in Chromium: settings, analytics plots, and the demo judge run from the page."""

from __future__ import annotations

import pytest

from annotate.models import Campaign, JudgeVerdict, User
from tests import factories
from tests.browser.conftest import login
from tests.fakes.judge_fixtures import human_vote, judge_config, make_pair, verdict

pytestmark = pytest.mark.browser


def test_the_judge_page_shows_numbers_and_plots(
    live_server, transactional_db, page, screenshot_dir
):
    factories.UserFactory(username="admin1", role=User.Role.ADMIN)
    campaign = factories.CampaignFactory(
        slug="judged", judge_mode=Campaign.JudgeMode.AFTER_VOTE, aspects=["helpful"]
    )
    judge_config(campaign, provider="demo", model="demo-judge")
    raters = [factories.UserFactory(username=f"r{i}") for i in range(2)]
    for i in range(12):
        pair = make_pair(campaign, "x" * (50 + 10 * i), "y" * (40 + 7 * i), model_a="demo-judge")
        human = "a" if i % 3 else "b"
        for rater in raters:
            human_vote(pair, rater, human, aspects={"helpful": human})
        v = verdict(pair, "a" if i % 4 else "b", consistent=i != 5)
        JudgeVerdict.objects.filter(pk=v.pk).update(aspects={"helpful": "a"})
    login(page, live_server, "admin1")
    page.goto(f"{live_server.url}/campaigns/judged/judge/")
    assert page.locator("h1").inner_text().startswith("AI judge")
    assert page.locator("#judge-analytics .judge-bars .bar").count() >= 8
    assert (
        "κ 0." in page.locator("#judge-analytics").inner_text()
        or "κ -0." in page.locator("#judge-analytics").inner_text()
    )
    page.screenshot(path=str(screenshot_dir / "judge_page.png"), full_page=True)
    # Start the offline demo judge from the page: the job shows up with its progress.
    page.click("text=Judge all pairs")
    assert (
        "Judging started" in page.locator(".messages").inner_text()
        or "Nothing to judge" in page.locator(".messages").inner_text()
    )
    assert not page.js_errors
