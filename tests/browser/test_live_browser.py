"""A two-turn live conversation in Chromium against the demo provider and a real worker: both
replies stream into the page (the text grows before the reply ends), the vote from the keyboard,
the conversation continues from the chosen reply, the names are revealed at the end."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from annotate.models import Generator, LiveConversation, LiveTurn
from tests.browser.conftest import login
from tests.protocols.live.helpers import live_campaign, live_rater


def _stream_text(page, side: str, index: int) -> str:
    return page.locator(f"#reply-{side}-{index} .live-stream").text_content() or ""


def _until_text(page, side: str, index: int, timeout: float = 20.0) -> str:
    """The pane's text once some has streamed in (polled here: the page's CSP forbids eval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = _stream_text(page, side, index)
        if text:
            return text
        page.wait_for_timeout(50)
    raise AssertionError("no text streamed into the pane")


@pytest.mark.slow
def test_a_rater_chats_two_turns_in_the_browser(
    live_server, transactional_db, redis_app, page, screenshot_dir
):
    campaign = live_campaign(max_turns=2, arena_reveal=True)
    Generator.objects.filter(campaign=campaign).update(params={"tokens_per_second": 25})
    live_rater(campaign)
    with start_worker(
        redis_app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        queues=["celery", "live"],
    ):
        login(page, live_server, "bob")
        page.goto(f"{live_server.url}/campaigns/{campaign.slug}/live/")
        page.click("#live-start")
        page.fill("#live-message", "How do I brew green tea?")
        page.click("#live-send-submit")
        first = _until_text(page, "left", 1)
        page.wait_for_timeout(400)
        assert len(_stream_text(page, "left", 1)) > len(first)  # still growing
        page.screenshot(path=str(screenshot_dir / "live-streaming.png"))
        page.wait_for_selector("#live-vote", timeout=60_000)
        page.keyboard.press("1")  # A is better
        page.keyboard.press("Enter")
        page.wait_for_selector("#live-message", timeout=20_000)
        turn = LiveTurn.objects.get(index=1)
        assert turn.voted_at and turn.continued_with == ("a" if turn.left_is_a else "b")

        page.fill("#live-message", "And black tea?")
        page.click("#live-send-submit")
        page.wait_for_selector("#live-vote", timeout=60_000)
        page.keyboard.press("2")  # B is better
        page.keyboard.press("Enter")
        page.wait_for_selector("#live-reveal", timeout=20_000)
        page.screenshot(path=str(screenshot_dir / "live-revealed.png"))
    second = LiveTurn.objects.get(index=2)
    assert second.prompt.messages[1] == {"role": "assistant", "content": turn.continuation}
    assert LiveConversation.objects.get().status == "ended"
    reveal = page.locator("#live-reveal").text_content()
    assert "demo-alpha" in reveal and "demo-beta" in reveal
    assert page.js_errors == []
