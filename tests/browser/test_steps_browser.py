"""The step-labels page in Chromium: the keyboard flow (j / k, 1 / 2 / 3, n, Enter; the trace
ending at its first wrong step), the 1366 × 768 layout with a long trace, and axe in both colour
schemes. Screenshots: screenshots/steps-<state>-<size>.png and a11y-steps-<scheme>.png."""

from __future__ import annotations

import pytest

from annotate.markdown import render_markdown
from annotate.models import Campaign, SetAssignment, StepTrace, StepVote
from tests import factories
from tests.browser.conftest import login
from tests.browser.test_accessibility import SCHEMES, _axe
from tests.browser.test_rate_layout import MEASURE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHORT = ("Add 2 and 2: **4**.", "Keep it: 4.", "Double it: 9.", "So the answer is 9.")
LONG_STEP = "This step explains the carry in more detail, digit by digit, with care. " * 12


def _traces(campaign, *, steps=SHORT, traces=2, **extra):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="steps", **extra)
    campaign.refresh_from_db()
    units = []
    for i in range(traces):
        text = f"What is 2 + 2, doubled? ({i})"
        prompt = factories.PromptFactory(
            campaign=campaign,
            messages=[{"role": "user", "content": text}],
            rendered=[{"role": "user", "html": render_markdown(text)}],
        )
        unit = factories.step_trace(campaign=campaign, steps=steps, prompt=prompt)
        StepTrace.objects.filter(candidate_set=unit).update(
            steps_html=[render_markdown(s) for s in steps]
        )
        units.append(unit)
    return units


def _open(page, live_server, campaign, size=(1440, 900)):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/steps/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")


def test_it_labels_steps_from_the_keyboard_and_the_first_wrong_step_ends_the_trace(
    live_server, page, campaign, rater
):
    _traces(campaign, step_stop_at_wrong=True)
    generator = StepTrace.objects.first().candidate.generator
    generator.name, generator.model = "secret-gen", "secret-model"
    generator.save()
    _open(page, live_server, campaign)
    assert "secret-" not in page.content()
    lease = SetAssignment.objects.get(rater=rater, status="active")
    assert page.get_attribute("#step-1", "aria-current") == "step"
    page.keyboard.press("1")  # step 1 correct, on to step 2
    assert page.get_attribute("#step-2", "aria-current") == "step"
    page.keyboard.press("k")  # back to 1, then down again with the arrow
    page.keyboard.press("ArrowDown")
    page.keyboard.press("2")  # step 2 neutral
    assert page.is_disabled("#steps-submit")
    page.keyboard.press("n")  # a note on step 3
    page.keyboard.type("4 doubled is 8")
    page.keyboard.press("Escape")
    page.keyboard.press("3")  # step 3 wrong: the trace ends
    assert "ended" in page.get_attribute("#step-4", "class")
    assert page.is_enabled("#steps-submit")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "id => document.querySelector('#workbench')?.dataset.lease !== id", arg=str(lease.pk)
    )
    vote = StepVote.objects.get()
    assert vote.labels == [1, 0, -1, None]
    assert vote.notes == ["", "", "4 doubled is 8", ""]
    assert page.inner_text("#my-votes") == "1"
    assert page.get_attribute("#step-1", "aria-current") == "step"  # the next trace, afresh
    page.keyboard.press("?")
    assert "neutral" in page.inner_text("#help")
    page.keyboard.press("Escape")
    assert not page.js_errors


def test_without_the_stop_every_step_needs_a_label(live_server, page, campaign, rater):
    _traces(campaign, traces=1, step_stop_at_wrong=False)
    _open(page, live_server, campaign)
    for key in ("+", "-", "0"):
        page.keyboard.press(key)
    assert page.is_disabled("#steps-submit")  # step 4 still open
    page.click("#step-4 .step-label.good")
    page.keyboard.press("Enter")
    page.wait_for_selector(".done-state")
    assert StepVote.objects.get().labels == [1, -1, 0, 1]
    assert not page.js_errors


CONTROLS = ["#steps-submit", "#steps-hint", "[data-toggle=skip-panel]", "#step-1 .step-labels"]


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_long_trace_fits_a_laptop(live_server, page, campaign, rater, screenshot_dir, size):
    """Twelve long steps: the prompt, the first step, its label buttons and the submit bar in
    view and on top, the page itself not scrolling (the steps scroll inside their list); once
    three steps are labelled, the current step (4) is scrolled into view with its buttons."""
    steps = tuple(f"Step {i + 1}. {LONG_STEP}" for i in range(12))
    _traces(campaign, steps=steps, traces=1)
    _open(page, live_server, campaign, size)
    shot = screenshot_dir / f"steps-start-{size[0]}x{size[1]}.png"
    page.screenshot(path=str(shot))
    problems = page.evaluate(
        MEASURE,
        {"controls": CONTROLS, "firstLines": ["#step-1 .step-body", ".prompt"], "minLines": 1},
    )
    assert problems == [], f"at {size}: {problems} (see {shot.name})"
    for key in ("1", "1", "2"):
        page.keyboard.press(key)
    page.wait_for_timeout(50)
    shot = screenshot_dir / f"steps-labelling-{size[0]}x{size[1]}.png"
    page.screenshot(path=str(shot))
    controls = ["#steps-submit", "#steps-hint", "#step-4 .step-labels"]
    problems = page.evaluate(
        MEASURE, {"controls": controls, "firstLines": ["#step-4 .step-body"], "minLines": 1}
    )
    assert problems == [], f"at {size}: {problems} (see {shot.name})"
    assert not page.js_errors


@pytest.fixture
def steps_scheme_page(browser, request):
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


@pytest.mark.parametrize("steps_scheme_page", SCHEMES, indirect=True)
def test_the_steps_page_passes_axe(live_server, steps_scheme_page, campaign, rater, screenshot_dir):
    _traces(campaign, traces=1)
    page = steps_scheme_page
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/steps/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("n")
    page.keyboard.press("Escape")
    _axe(page, "steps", screenshot_dir)


@pytest.mark.parametrize("steps_scheme_page", SCHEMES, indirect=True)
def test_the_judges_labels_show_after_the_vote_and_pass_axe(
    live_server, steps_scheme_page, campaign, rater, screenshot_dir
):
    units = _traces(campaign, step_stop_at_wrong=True, judge_mode="after_vote")
    for unit in units:
        StepVote.objects.create(
            campaign=campaign,
            candidate_set=unit,
            source="judge",
            labels=[1, 1, -1, None],
            notes=["Adds up.", "Keeps the value.", "4 doubled is 8, not 9.", ""],
        )
    page = steps_scheme_page
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/steps/")
    if page.is_visible("#guidelines"):
        page.keyboard.press("Enter")
    assert not page.is_visible("#judge-reveal") and "not 9" not in page.content()
    lease = SetAssignment.objects.get(rater=rater, status="active")
    for key in ("1", "1", "3"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "id => document.querySelector('#workbench')?.dataset.lease !== id", arg=str(lease.pk)
    )
    assert page.is_visible("#judge-reveal")
    assert "4 doubled is 8, not 9." in page.inner_text("#judge-reveal")
    page.screenshot(path=str(screenshot_dir / f"steps-judge-reveal-{page.scheme}-1366x768.png"))
    _axe(page, "steps-judge-reveal", screenshot_dir)
