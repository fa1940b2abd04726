"""The ranking page in Chromium: the keyboard flow (numbers, "=" tie, Backspace, Enter), drag and
drop, the full-text reader, the 1366 × 768 layout with K = 9 long answers, and axe in both colour
schemes. Screenshots: screenshots/rank-<state>-<size>.png and a11y-rank-<scheme>.png."""

from __future__ import annotations

import pytest

from annotate.markdown import render_markdown
from annotate.models import Campaign, RankingVote, SetAssignment
from tests import factories
from tests.browser.conftest import login
from tests.browser.test_accessibility import SCHEMES, _axe
from tests.browser.test_rate_layout import MEASURE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = (
    "Start with the structure of the problem before writing any code.\n\n"
    "1. Read the **input** and check the edge cases.\n2. Handle the general case.\n\n"
    + "A further paragraph explains the reasoning in more detail, step by step. "
    * 120
)


def _ranking(campaign, *, k: int, sets: int = 2, long: bool = False, **extra):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="ranking", ranking_k=max(3, k), **extra)
    campaign.refresh_from_db()
    out = []
    for s in range(sets):
        text = f"Explain circles ({s}). " + ("Some context about my project. " * 6 if long else "")
        prompt = factories.PromptFactory(
            campaign=campaign,
            messages=[{"role": "user", "content": text}],
            rendered=[{"role": "user", "html": render_markdown(text)}],
            system="You are a careful tutor." if long else "",
        )
        unit = factories.ranking_set(campaign=campaign, k=k, prompt=prompt)
        for i, member in enumerate(unit.members.select_related("candidate")):
            body = f"Answer {i} of set {s}. " + (LONG if long else "Short and plain.")
            member.candidate.text = body
            member.candidate.html = render_markdown(body)
            member.candidate.save()
        out.append(unit)
    return out


def _open(page, live_server, campaign, size=(1440, 900)):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rank/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")


def _order(page) -> str:
    return page.input_value("#ranking")


def test_it_ranks_from_the_keyboard_with_a_tie_and_a_take_back(live_server, page, campaign, rater):
    _ranking(campaign, k=4)
    _open(page, live_server, campaign)
    lease = SetAssignment.objects.get(rater=rater, status="active")
    page.keyboard.press("3")
    page.keyboard.press("1")
    page.keyboard.press("Backspace")  # takes 1 back
    assert _order(page) == "[[3]]"
    page.keyboard.press("4")
    page.keyboard.press("=")
    assert page.is_visible("#tie-armed")
    page.keyboard.press("1")  # tied with 4
    assert _order(page) == "[[3],[4,1]]"
    assert page.inner_text("[data-badge='1']") == "2nd (tie)"
    assert page.is_enabled("#rank-submit")  # one left: Enter ranks it last
    page.keyboard.press("Enter")
    page.wait_for_function(
        "id => document.querySelector('#workbench')?.dataset.lease !== id", arg=str(lease.pk)
    )
    vote = RankingVote.objects.get()
    s = lease.shown_order
    assert vote.ranking == [[s[2]], [s[3], s[0]], [s[1]]]
    assert _order(page) == ""  # the next set starts afresh
    assert page.inner_text("#my-votes") == "1"
    assert not page.js_errors


def test_it_ranks_by_drag_and_drop_and_ties_by_click(live_server, page, campaign, rater):
    _ranking(campaign, k=3, sets=1)
    _open(page, live_server, campaign)
    end = page.locator("#order-ranked").bounding_box()
    at_end = {"x": end["width"] - 4, "y": end["height"] / 2}  # past the last chip
    page.drag_and_drop("#card-2 .response-head", "#order-ranked", target_position=at_end)
    page.drag_and_drop("#order-unranked [data-chip='3']", "#order-ranked", target_position=at_end)
    page.drag_and_drop("#order-unranked [data-chip='1']", "#order-ranked [data-chip='2']")
    assert _order(page) == "[[1],[2],[3]]"
    page.click("[data-tie-with='2']")  # 3 ties with 2
    assert _order(page) == "[[1],[2,3]]"
    page.drag_and_drop("#order-ranked [data-chip='1']", "#order-unranked")  # back out
    assert _order(page) == "[[2,3]]"
    page.keyboard.press("1")
    page.click("#rank-submit")
    page.wait_for_selector(".done-state")
    lease = SetAssignment.objects.get(rater=rater)
    s = lease.shown_order
    assert RankingVote.objects.get().ranking == [[s[1], s[2]], [s[0]]]
    assert not page.js_errors


def test_the_full_text_is_one_key_away(live_server, page, campaign, rater):
    _ranking(campaign, k=4, sets=1, long=True)
    _open(page, live_server, campaign)
    page.keyboard.press("f")
    page.keyboard.press("3")
    assert page.is_visible("#reader")
    assert page.inner_text("#reader-title") == "Response 3"
    assert "further paragraph" in page.inner_text("#reader-body")
    page.keyboard.press("Escape")
    assert not page.is_visible("#reader")
    page.keyboard.press("?")
    assert "tie" in page.inner_text("#help")
    page.keyboard.press("Escape")
    assert _order(page) == ""  # none of it ranked anything


CONTROLS = ["#rank-submit", "#order", "#all-bad", "#rationale", ".aspect", "[data-compact]",
            "[data-toggle=skip-panel]"]  # fmt: skip


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_nine_long_answers_fit_a_laptop(live_server, page, campaign, rater, screenshot_dir, size):
    """K = 9 answers of ~1,500 words: every card's first line, the order bar and every control in
    view and on top, the page itself not scrolling; with the rationale and an aspect too."""
    _ranking(campaign, k=9, sets=1, long=True, aspects=["honest"], rationale="optional")
    _open(page, live_server, campaign, size)
    for n in (5, 2, 9):
        page.keyboard.press(str(n))
    cards = [f"#card-{n} .response-body" for n in range(1, 10)]
    for state in ("ranking", "compact"):
        if state == "compact":
            page.keyboard.press("e")
        page.wait_for_timeout(50)
        shot = screenshot_dir / f"rank-{state}-k9-{size[0]}x{size[1]}.png"
        page.screenshot(path=str(shot))
        problems = page.evaluate(
            MEASURE, {"controls": CONTROLS, "firstLines": cards, "minLines": 2}
        )
        assert problems == [], f"{state} at {size}: {problems} (see {shot.name})"
    assert not page.js_errors


@pytest.fixture
def rank_scheme_page(browser, request):
    """A 1366 x 768 page in the light or dark scheme (as test_accessibility's scheme_page)."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, color_scheme=request.param
    )
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda e: page.js_errors.append(str(e)))
    page.scheme = request.param
    yield page
    context.close()


@pytest.mark.parametrize("rank_scheme_page", SCHEMES, indirect=True)
def test_the_ranking_page_passes_axe(
    live_server, rank_scheme_page, campaign, rater, screenshot_dir
):
    _ranking(campaign, k=4, sets=1, aspects=["honest"], rationale="optional", allow_rewrite=True)
    page = rank_scheme_page
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rank/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")
    page.keyboard.press("2")
    page.keyboard.press("=")
    page.keyboard.press("4")
    _axe(page, "rank", screenshot_dir)


def test_u_undoes_the_last_ranking_and_the_correction_is_a_new_row(
    live_server, page, campaign, rater, screenshot_dir
):
    """After a vote the Undo button counts down; u brings the set back in the same order with the
    ranking filled in; Enter sends the correction (a new row), and the waiting set comes back.
    The correcting state fits 1366 x 768 and passes axe."""
    _ranking(campaign, k=4, sets=2, long=True, aspects=["honest"], rationale="optional")
    _open(page, live_server, campaign, (1366, 768))
    lease = SetAssignment.objects.get(rater=rater, status="active")
    page.scheme = "light"
    for key in ("2", "1", "4", "3"):
        page.keyboard.press(key)
    page.check(".aspect[data-aspect='honest'] input[value='2']")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "id => document.querySelector('#workbench')?.dataset.lease !== id", arg=str(lease.pk)
    )
    waiting = page.evaluate("document.querySelector('#workbench').dataset.lease")
    assert page.is_visible("#undo-button")
    assert "s left" in page.inner_text("#undo-button")
    page.keyboard.press("u")
    page.wait_for_selector(".correcting")
    assert page.evaluate("document.querySelector('#workbench').dataset.lease") == str(lease.pk)
    assert _order(page) == "[[2],[1],[4],[3]]"
    assert page.is_checked(".aspect[data-aspect='honest'] input[value='2']")
    shot = screenshot_dir / "rank-correcting-1366x768.png"
    page.screenshot(path=str(shot))
    cards = [f"#card-{n} .response-body" for n in range(1, 5)]
    controls = ["#rank-submit", "#order", "#rationale", ".aspect"]
    problems = page.evaluate(MEASURE, {"controls": controls, "firstLines": cards, "minLines": 2})
    assert problems == [], f"correcting: {problems} (see {shot.name})"
    _axe(page, "rank-correcting", screenshot_dir)
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "id => document.querySelector('#workbench')?.dataset.lease === id", arg=waiting
    )
    assert "corrected" in page.inner_text(".rate-status")
    first = RankingVote.objects.get(revises__isnull=True)
    fixed = RankingVote.objects.get(revises=first)
    s = lease.shown_order
    assert fixed.ranking == [[s[1]], [s[0]], [s[2]], [s[3]]]
    assert first.ranking == [[s[1]], [s[0]], [s[3]], [s[2]]]  # never updated
    assert not page.js_errors
