"""The judge's modes in Chromium. After-vote: the verdict is nowhere in the page or anything it loaded
before the vote; after the vote it appears and the rater revises with one click. Before-vote: shown."""

from __future__ import annotations

import pytest

from annotate.models import Assignment, Campaign, JudgeVerdict, Judgment
from tests.browser.conftest import login
from tests.fakes.judge_fixtures import make_pair, verdict

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SECRET = "Okapi-rationale: Response 1 names the base case."


def _judged_pairs(campaign, n=2):
    for i in range(n):
        pair = make_pair(
            campaign, f"Recursion stops at a base case ({i}).", f"Recursion repeats ({i})."
        )
        v = verdict(pair, "a")
        JudgeVerdict.objects.filter(pk=v.pk).update(
            order1={"choice": "a", "rationale": SECRET},
            order2={"choice": "a", "rationale": SECRET.replace("Response 1", "Response 2")},
        )


def _open(page, live_server, campaign, bodies):
    page.on(
        "response",
        lambda r: (
            bodies.append(r.text())
            if r.url.startswith(live_server.url) and "text" in (r.headers.get("content-type") or "")
            else None
        ),
    )
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rate/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")


def test_after_vote_reveals_only_after_the_blind_vote_and_revises(
    live_server, page, campaign, rater, screenshot_dir
):
    Campaign.objects.filter(pk=campaign.pk).update(judge_mode=Campaign.JudgeMode.AFTER_VOTE)
    _judged_pairs(campaign)
    bodies: list[str] = []
    _open(page, live_server, campaign, bodies)
    page.keyboard.press("d")  # the diff fragment is fetched too
    page.wait_for_timeout(200)
    assert "Okapi" not in page.content()
    assert bodies and not any("Okapi" in b for b in bodies)  # nor in any response so far

    # Vote for b (wherever it is shown), so that revising to the judge's a is a change of mind.
    lease = Assignment.objects.get(rater=rater)
    page.keyboard.press("2" if lease.left_is_a else "1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#judge-reveal")
    reveal = page.locator("#judge-reveal").inner_text()
    assert "Okapi-rationale" in reveal
    page.screenshot(path=str(screenshot_dir / "judge_after_vote.png"), full_page=True)
    first = Judgment.objects.get()
    # While keep / revise is open the next pair's vote bar waits, and the keys answer the reveal:
    # the judge prefers a, so revise to it with its key in the rater's own labels (A = left).
    assert page.locator("#workbench.awaiting-reveal").count() == 1
    page.keyboard.press("1" if first.left_is_a else "2")
    page.wait_for_selector("text=Both votes are kept")
    revision = Judgment.objects.get(revises=first)
    assert revision.choice == "a" and revision.judge_shown
    # That key did not pre-select a verdict on the next pair; now the keys are the next pair's.
    assert page.locator("#workbench.awaiting-reveal").count() == 0
    assert page.locator("#vote-form [aria-pressed=true]").count() == 0
    page.keyboard.press("t")
    assert page.locator("#vote-form [data-verdict=tie][aria-pressed=true]").count() == 1
    assert Judgment.objects.count() == 2
    assert not page.js_errors


def test_after_vote_enter_keeps_the_vote(live_server, page, campaign, rater):
    Campaign.objects.filter(pk=campaign.pk).update(judge_mode=Campaign.JudgeMode.AFTER_VOTE)
    _judged_pairs(campaign)
    _open(page, live_server, campaign, [])
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.wait_for_selector("#judge-reveal .judge-actions")
    page.keyboard.press("Enter")  # keeps the vote; does not submit the next pair
    page.wait_for_selector("text=Kept your vote")
    assert Judgment.objects.count() == 1
    assert not page.js_errors


def test_before_vote_shows_the_suggestion_up_front(live_server, page, campaign, rater):
    Campaign.objects.filter(pk=campaign.pk).update(judge_mode=Campaign.JudgeMode.BEFORE_VOTE)
    _judged_pairs(campaign, n=1)
    _open(page, live_server, campaign, [])
    assert "AI judge suggests" in page.content()
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('#workbench')?.dataset.assignment")
    assert Judgment.objects.get().judge_shown is True


@pytest.mark.parametrize(
    ("scale", "vote_key", "revise_key", "hint", "shown", "strength", "label"),
    [
        # Binary: 2 is B when voting and when revising.
        ("binary", "1", "2", "B is better <kbd>2</kbd>", "right", None, "B is better"),
        # 7-point: 2 is "A better" in both states, so the reveal offers it as such; 6 is "B better".
        ("graded7", "2", "6", "B better <kbd>6</kbd>", "right", 2, "B better"),
        ("graded7", "6", "3", "A slightly better <kbd>3</kbd>", "left", 1, "A slightly better"),
        ("graded7", "2", "t", "About the same <kbd>4</kbd>", "tie", 0, "About the same"),
    ],
)
def test_after_vote_the_keys_revise_to_what_they_say_on_every_scale(
    live_server,
    page,
    campaign,
    rater,
    screenshot_dir,
    scale,
    vote_key,
    revise_key,
    hint,
    shown,
    strength,
    label,
):
    from annotate.sides import to_stored

    Campaign.objects.filter(pk=campaign.pk).update(
        judge_mode=Campaign.JudgeMode.AFTER_VOTE, scale=scale
    )
    _judged_pairs(campaign)
    _open(page, live_server, campaign, [])
    page.keyboard.press(vote_key)
    page.keyboard.press("Enter")
    page.wait_for_selector("#judge-reveal .judge-actions")
    actions = page.inner_html("#judge-reveal .judge-actions")
    assert hint in actions
    assert "B 2" not in page.inner_text("#judge-reveal") or scale == "binary"
    page.screenshot(path=str(screenshot_dir / f"judge_reveal_{scale}.png"), full_page=True)
    page.keyboard.press(revise_key)
    page.wait_for_selector("text=Both votes are kept")
    assert f"Revised to {label}" in page.inner_text("#judge-reveal")
    first = Judgment.objects.get(revises__isnull=True)
    revision = Judgment.objects.get(revises=first)
    assert revision.choice == to_stored(shown, left_is_a=first.left_is_a)
    assert revision.strength == strength
    assert (revision.choice, revision.strength) != (first.choice, first.strength)
    assert not page.js_errors
