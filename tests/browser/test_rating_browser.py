"""The rating page in Chromium: the keyboard flow (number keys score the cell under the cursor
and move on, arrows move, Backspace clears, r writes why, Enter submits), the 1366 × 768 layout
with four long answers and three aspects, and axe in both schemes. Screenshots:
screenshots/rating-<state>-<size>.png and a11y-rating-<scheme>.png."""

from __future__ import annotations

import pytest

from annotate.markdown import render_markdown
from annotate.models import Campaign, RatingScore, RatingVote, SetAssignment
from tests import factories
from tests.browser.conftest import login
from tests.browser.test_accessibility import SCHEMES, _axe, scheme_page  # noqa: F401
from tests.browser.test_rank_browser import LONG
from tests.browser.test_rate_layout import MEASURE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _rating(campaign, *, k: int, units: int = 2, long: bool = False, **extra):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="rating", rating_k=k, **extra)
    campaign.refresh_from_db()
    for s in range(units):
        text = f"Explain circles ({s}). " + ("Some context about my project. " * 6 if long else "")
        prompt = factories.PromptFactory(
            campaign=campaign,
            messages=[{"role": "user", "content": text}],
            rendered=[{"role": "user", "html": render_markdown(text)}],
            system="You are a careful tutor." if long else "",
        )
        unit = factories.ranking_set(campaign=campaign, k=k, prompt=prompt)
        for i, member in enumerate(unit.members.select_related("candidate")):
            body = f"Answer {i} of unit {s}. " + (LONG if long else "Short and plain.")
            member.candidate.text = body
            member.candidate.html = render_markdown(body)
            member.candidate.save()


def _open(page, live_server, campaign, size=(1440, 900)):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rating/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")


def test_it_rates_from_the_keyboard(live_server, page, campaign, rater):
    _rating(campaign, k=2, aspects=["honest"], rationale="optional")
    _open(page, live_server, campaign)
    lease = SetAssignment.objects.get(rater=rater, status="active")
    assert not page.is_enabled("#rating-submit")
    page.keyboard.press("5")  # response 1 overall, then the cursor goes down to honest
    page.keyboard.press("4")  # response 1 honest, then on to response 2 overall
    page.keyboard.press("9")  # off the 1-5 scale: nothing changes
    assert "from 1 to 5" in page.inner_text("#rating-hint")
    page.keyboard.press("2")
    page.keyboard.press("ArrowUp")  # back to response 2 overall
    page.keyboard.press("Backspace")
    assert page.input_value("#s-2-0") == ""
    page.keyboard.press("1")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("r")  # why, for response 1
    page.keyboard.type("Clear and right.")
    page.keyboard.press("Escape")
    assert page.input_value("#s-2-1") == "" and not page.is_enabled("#rating-submit")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("3")
    assert page.is_enabled("#rating-submit")
    page.keyboard.press("?")
    assert "next criterion" in page.inner_text("#help")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "id => document.querySelector('#workbench')?.dataset.lease !== id", arg=str(lease.pk)
    )
    vote = RatingVote.objects.get()
    s = lease.shown_order
    scores = {r.candidate_id: r for r in RatingScore.objects.filter(vote=vote)}
    assert (scores[s[0]].overall, scores[s[0]].aspects, scores[s[0]].rationale) == (
        5, {"honest": 4}, "Clear and right."
    )  # fmt: skip
    assert (scores[s[1]].overall, scores[s[1]].aspects) == (1, {"honest": 3})
    assert page.input_value("#s-1-0") == ""  # the next unit starts afresh
    assert page.inner_text("#my-votes") == "1"
    assert not page.js_errors


CONTROLS = ["#rating-submit", "#score-grid", "input.score", "textarea.why",
            "[data-toggle=skip-panel]"]  # fmt: skip


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_four_long_answers_and_three_aspects_fit_a_laptop(
    live_server, page, campaign, rater, screenshot_dir, size
):
    """K = 4 answers of ~1,500 words, three aspects and a rationale row: every card's first
    lines, the whole score grid and every control in view and on top; the page does not scroll."""
    _rating(
        campaign, k=4, units=1, long=True, aspects=["helpful", "honest", "concise"],
        rationale="optional",
    )  # fmt: skip
    _open(page, live_server, campaign, size)
    for key in "5432":
        page.keyboard.press(key)
    cards = [f"#card-{n} .response-body" for n in range(1, 5)]
    shot = screenshot_dir / f"rating-k4-a3-{size[0]}x{size[1]}.png"
    page.wait_for_timeout(50)
    page.screenshot(path=str(shot))
    problems = page.evaluate(MEASURE, {"controls": CONTROLS, "firstLines": cards, "minLines": 2})
    assert problems == [], f"at {size}: {problems} (see {shot.name})"
    assert not page.js_errors


@pytest.mark.parametrize("size", [(1366, 768)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_one_long_answer_per_unit_fits_a_laptop(
    live_server, page, campaign, rater, screenshot_dir, size
):
    _rating(campaign, k=1, units=1, long=True, aspects=["helpful"], rationale="required")
    _open(page, live_server, campaign, size)
    shot = screenshot_dir / f"rating-k1-{size[0]}x{size[1]}.png"
    page.screenshot(path=str(shot))
    problems = page.evaluate(
        MEASURE, {"controls": CONTROLS, "firstLines": ["#card-1 .response-body"], "minLines": 4}
    )
    assert problems == [], f"at {size}: {problems} (see {shot.name})"


@pytest.mark.parametrize("scheme_page", SCHEMES, indirect=True)
def test_the_rating_page_passes_axe(live_server, scheme_page, campaign, rater, screenshot_dir):  # noqa: F811
    _rating(campaign, k=3, units=1, aspects=["honest"], rationale="optional")
    page = scheme_page
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rating/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")
    page.keyboard.press("4")
    _axe(page, "rating", screenshot_dir)
    page.keyboard.press("?")
    _axe(page, "rating-help", screenshot_dir)


@pytest.mark.parametrize("scheme_page", SCHEMES, indirect=True)
def test_the_judges_scores_appear_only_after_the_vote_and_pass_axe(
    live_server,
    scheme_page,  # noqa: F811
    campaign,
    rater,
    admin_user,
    screenshot_dir,
    monkeypatch,
):
    """After-vote mode in the browser: blind while rating, the reveal swapped in with the next
    unit once the vote is stored (the offline demo judge scored both units first)."""
    from annotate import tasks
    from annotate.models import RatingJudgement
    from annotate.services.judging_ratings import rating_judge_run, rating_judge_start
    from tests.fakes.judge_fixtures import judge_config

    _rating(campaign, k=2, units=2, aspects=["honest"], judge_mode="after_vote")
    judge_config(campaign, provider="demo", model="demo-judge")
    monkeypatch.setattr(tasks.judge_ratings_task, "delay", lambda **kw: None)
    rating_judge_start(campaign=campaign, actor=admin_user)
    for row in RatingJudgement.objects.all():
        assert rating_judge_run(judgement_id=row.id).status == "done"
    page = scheme_page
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rating/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")
    assert page.locator("#judge-reveal, .judge-suggestion").count() == 0
    assert "Scored by" not in page.inner_text("main")
    for key in "4343":
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_selector("#judge-reveal")
    text = page.inner_text("#judge-reveal")
    assert "Judge:" in text and "honest" in text and "Scored by" in text
    assert page.locator("#judge-reveal li").count() == 2
    _axe(page, "rating-judge-reveal", screenshot_dir)
