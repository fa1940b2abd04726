"""Crowd participants in Chromium: a Prolific participant from the study link through consent,
training with feedback and work to the completion URL (a capture endpoint on 127.0.0.1); one
screened out in training; one failing the attention checks; an MTurk preview, then a HIT done in
its own tab and submitted to a fake externalSubmit. Every crowd page passes axe, light and dark.
Screenshots: screenshots/crowd-*.png and screenshots/a11y-crowd-*.png."""

from __future__ import annotations

import time

import pytest

from annotate.models import Assignment, Participant, RankingVote, SetAssignment, User
from annotate.services.participants import participant_arrive, participant_finish
from tests import factories
from tests.browser.test_accessibility import SCHEMES, _axe
from tests.fakes.crowd import (
    CaptureServer,
    crowd_campaign,
    crowd_ranking_campaign,
    gold_pairs_first,
    prolific_id,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def capture():
    server = CaptureServer().start()
    yield server
    server.stop()


def _study_link(live_server, pid, slug="study"):
    return (
        f"{live_server.url}/p/{slug}/prolific/?PROLIFIC_PID={pid}"
        f"&STUDY_ID={'a' * 24}&SESSION_ID={prolific_id()}"
    )


def _consent(page):
    page.wait_for_selector("text=Consent")
    page.click("button[value=yes]")


def _answer_training(page, value, shot=None):
    page.wait_for_selector("text=Training question")
    page.check(f"input[name=choice][value={value}]")
    page.click("button:has-text('Answer')")
    page.wait_for_selector("#expected-answer")
    if shot:
        page.screenshot(path=str(shot))
    page.click("#training-next")


def _close_guidelines(page):
    """Enter closes the guidelines once the page's script listens for keys; a press before it
    does (a busy machine) is lost, and the vote's keys would then only close the overlay."""
    page.wait_for_selector("#workbench")
    deadline = time.monotonic() + 20
    while page.is_visible("#guidelines") and time.monotonic() < deadline:
        page.keyboard.press("Enter")
        page.wait_for_timeout(100)
    assert not page.is_visible("#guidelines")


def _vote(page, key):
    before = page.get_attribute("#workbench", "data-assignment")
    page.keyboard.press(key)
    page.keyboard.press("Enter")
    return before


def _key_for(pid, stored):
    """The key that votes for the stored side ("a"/"b") on this participant's current pair."""
    user = Participant.objects.get(external_id=pid).user
    lease = Assignment.objects.get(rater=user, status="active")
    return "1" if (stored == "a") == lease.left_is_a else "2"


def _captured(capture, path):
    return [r for r in capture.requests if r["path"] == path]


def test_a_prolific_participant_from_the_study_link_to_the_completion_code(
    live_server, page, capture, screenshot_dir
):
    crowd_campaign(
        training=2,
        quota=2,
        pairs=4,
        completion_url=f"{capture.url}/submissions/complete?cc=",
    )
    pid = prolific_id()
    page.goto(_study_link(live_server, pid))
    page.screenshot(path=str(screenshot_dir / "crowd-consent.png"))
    _consent(page)
    _answer_training(page, "a", shot=screenshot_dir / "crowd-training-feedback.png")
    page.wait_for_selector("text=Training question 2 of 2")
    page.check("input[name=choice][value=a]")
    page.click("button:has-text('Answer')")
    assert page.inner_text("#expected-answer") == "A is better"
    assert "Response A answers the question (1)." in page.inner_text("main")
    page.click("#training-next")
    _close_guidelines(page)
    assert page.inner_text("#my-quota") == "2"
    page.screenshot(path=str(screenshot_dir / "crowd-rate.png"))
    before = _vote(page, "1")
    page.wait_for_function(
        "b => document.querySelector('#workbench')?.dataset.assignment !== b", arg=before
    )
    assert page.inner_text("#my-votes") == "1"
    _vote(page, "2")
    page.wait_for_url(f"{capture.url}/submissions/complete?cc=C0MPLETE")
    hits = _captured(capture, "/submissions/complete")
    assert hits and hits[-1]["query"] == {"cc": ["C0MPLETE"]}
    participant = Participant.objects.get(external_id=pid)
    assert participant.status == "completed" and participant.training_score == 1.0
    assert not page.js_errors
    # Coming back: the finish again, no new lease.
    page.goto(f"{live_server.url}/p/study/")
    page.wait_for_url(f"{capture.url}/submissions/complete?cc=C0MPLETE")
    assert Assignment.objects.filter(rater=participant.user, status="active").count() == 0


def test_a_participant_below_the_training_mark_is_screened_out(live_server, page, capture):
    crowd_campaign(
        training=1, training_pass=1.0, completion_url=f"{capture.url}/submissions/complete?cc="
    )
    pid = prolific_id()
    page.goto(_study_link(live_server, pid))
    _consent(page)
    page.wait_for_selector("text=Training question 1 of 1")
    page.check("input[name=choice][value=b]")
    page.click("button:has-text('Answer')")
    page.wait_for_selector("text=Not quite")
    page.click("#training-next")
    page.wait_for_url(f"{capture.url}/submissions/complete?cc=SCREENED")
    assert Participant.objects.get(external_id=pid).status == "screened_out"
    assert not Assignment.objects.exists()


def test_a_participant_failing_the_attention_checks_gets_its_code(live_server, page, capture):
    campaign, *_ = crowd_campaign(
        quota=10,
        pairs=3,
        gold=3,
        attention=0.6,
        attention_min=2,
        completion_url=f"{capture.url}/submissions/complete?cc=",
    )
    gold_pairs_first(campaign)
    pid = prolific_id()
    page.goto(_study_link(live_server, pid))
    _consent(page)
    _close_guidelines(page)
    before = _vote(page, _key_for(pid, "b"))  # gold answer is "a"
    page.wait_for_function(
        "b => document.querySelector('#workbench')?.dataset.assignment !== b", arg=before
    )
    _vote(page, _key_for(pid, "b"))
    page.wait_for_url(f"{capture.url}/submissions/complete?cc=ATTENTION")
    assert Participant.objects.get(external_id=pid).status == "failed_attention"


def test_an_mturk_preview_then_a_hit_submitted_to_external_submit(
    live_server, page, capture, screenshot_dir
):
    crowd_campaign(quota=1, pairs=3)
    base = f"{live_server.url}/p/study/mturk/"
    page.goto(
        f"{base}?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1&turkSubmitTo={capture.url}"
    )
    page.wait_for_selector("text=Accept the HIT")
    assert page.locator(".response").count() == 2  # the sample pair
    page.screenshot(path=str(screenshot_dir / "crowd-mturk-preview.png"))
    assert not Participant.objects.exists() and not Assignment.objects.exists()
    page.goto(f"{base}?assignmentId=ASSIGN1&hitId=H1&workerId=W1&turkSubmitTo={capture.url}")
    with page.expect_popup() as opened:
        page.click("#mturk-start")
    task = opened.value
    task.js_errors = []
    task.on("pageerror", lambda e: task.js_errors.append(str(e)))
    _consent(task)
    _close_guidelines(task)
    _vote(task, "1")
    task.wait_for_url(f"{capture.url}/mturk/externalSubmit")
    posted = _captured(capture, "/mturk/externalSubmit")
    assert posted and posted[-1]["method"] == "POST"
    assert posted[-1]["form"]["assignmentId"] == ["ASSIGN1"]
    assert posted[-1]["form"]["status"] == ["completed"]
    assert Participant.objects.get().status == "completed"
    assert not task.js_errors


def rank_set(page) -> str:
    """Rank the current set from the keyboard (1, 2, then Enter ranks the last one last); returns
    the lease id the page showed before."""
    before = page.get_attribute("#workbench", "data-lease")
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    return before


def test_a_prolific_participant_ranks_sets_to_the_completion_code(
    live_server, page, capture, screenshot_dir
):
    crowd_ranking_campaign(
        quota=2, sets=4, k=3, completion_url=f"{capture.url}/submissions/complete?cc="
    )
    pid = prolific_id()
    page.goto(_study_link(live_server, pid))
    _consent(page)
    page.wait_for_url(f"{live_server.url}/campaigns/study/rank/")
    _close_guidelines(page)
    assert page.inner_text("#my-quota") == "2"
    assert page.get_attribute("#workbench", "data-beat-seconds") == "20"
    page.screenshot(path=str(screenshot_dir / "crowd-rank.png"))
    before = rank_set(page)
    page.wait_for_function(
        "b => document.querySelector('#workbench')?.dataset.lease !== b", arg=before
    )
    assert page.inner_text("#my-votes") == "1"
    rank_set(page)
    page.wait_for_url(f"{capture.url}/submissions/complete?cc=C0MPLETE")
    assert _captured(capture, "/submissions/complete")[-1]["query"] == {"cc": ["C0MPLETE"]}
    participant = Participant.objects.get(external_id=pid)
    assert participant.status == "completed"
    assert RankingVote.objects.filter(rater=participant.user).count() == 2
    assert not SetAssignment.objects.filter(rater=participant.user, status="active").exists()
    assert not page.js_errors
    page.goto(f"{live_server.url}/campaigns/study/rank/")  # back again: the finish, no new lease
    page.wait_for_url(f"{capture.url}/submissions/complete?cc=C0MPLETE")


# --- axe on every crowd page ------------------------------------------------------------------


@pytest.fixture
def scheme_page(browser, request):
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, color_scheme=request.param
    )
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda e: page.js_errors.append(str(e)))
    page.scheme = request.param
    yield page
    context.close()


@pytest.mark.parametrize("scheme_page", SCHEMES, indirect=True)
def test_the_crowd_pages_pass_axe(live_server, scheme_page, screenshot_dir):
    page = scheme_page
    campaign, _, _, units = crowd_campaign(training=1, returned_code="")
    pid = prolific_id()
    page.goto(f"{live_server.url}/p/study/prolific/?PROLIFIC_PID=bad")
    _axe(page, "crowd-bad-link", screenshot_dir)
    page.goto(f"{live_server.url}/p/study/mturk/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE")
    _axe(page, "crowd-mturk-preview", screenshot_dir)
    page.goto(
        f"{live_server.url}/p/study/mturk/?assignmentId=A1&hitId=H1&workerId=W9"
        "&turkSubmitTo=https://workersandbox.mturk.com"
    )
    _axe(page, "crowd-mturk", screenshot_dir)
    page.goto(_study_link(live_server, pid))
    _axe(page, "crowd-consent", screenshot_dir)
    page.click("button[value=yes]")
    page.wait_for_selector("text=Training question")
    _axe(page, "crowd-training", screenshot_dir)
    page.check("input[name=choice][value=a]")
    page.click("button:has-text('Answer')")
    page.wait_for_selector("#expected-answer")
    _axe(page, "crowd-training-feedback", screenshot_dir)
    page.click("#training-next")
    _close_guidelines(page)
    page.keyboard.press("Escape")
    _axe(page, "crowd-rate", screenshot_dir)
    participant = Participant.objects.get(external_id=pid)
    participant_finish(participant=participant, status="returned")
    page.goto(f"{live_server.url}/p/study/done/")  # returned with no code: a page, no redirect
    _axe(page, "crowd-done", screenshot_dir)
    factories.UserFactory(username="alice", role=User.Role.ADMIN)
    participant_arrive(campaign=campaign, platform="prolific", external_id=prolific_id())
    from tests.browser.conftest import login

    page.context.clear_cookies()
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/campaigns/study/crowd/")
    _axe(page, "crowd-admin", screenshot_dir)
