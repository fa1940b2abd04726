"""Live replies in Chromium at 1366x768 against the demo provider and a real worker: a reload in the
middle of a stream shows the text so far and streams on to the end; a dropped connection comes
back with Last-Event-ID and loses or repeats no piece; a three-turn conversation from the keyboard
(write, both stream, vote, the next turn continues from the chosen reply, the arena reveal at the
end); the streaming preview renders markdown without ever parsing HTML; axe-core finds nothing.

Every EventSource the page opens is watched from an init script (the page's own code is not
touched): its events, their ids and the connection's errors go to sessionStorage per page load,
so a test reads what the browser received even after the page reloaded itself."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
from celery.contrib.testing.worker import start_worker

from annotate.models import Candidate, Generator, LiveConversation, LiveTurn
from tests.browser.conftest import login
from tests.fakes.tcp_proxy import DroppingProxy
from tests.protocols.live.helpers import live_campaign, live_rater

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}}

WATCH_EVENTSOURCE = """
(() => {
  const load = Number(sessionStorage.getItem("loads") || 0) + 1;
  sessionStorage.setItem("loads", String(load));
  const Native = window.EventSource;
  window.EventSource = function (url, options) {
    const source = new Native(url, options);
    const key = "sse:" + load + ":" + new URL(url, location.href).pathname;
    const note = (kind) => (e) => {
      const got = JSON.parse(sessionStorage.getItem(key) || "[]");
      got.push([kind, e.lastEventId || "", e.data === undefined ? null : e.data]);
      sessionStorage.setItem(key, JSON.stringify(got));
    };
    ["open", "delta", "reset", "end", "error"].forEach((k) => source.addEventListener(k, note(k)));
    return source;
  };
  window.EventSource.CONNECTING = 0; window.EventSource.OPEN = 1; window.EventSource.CLOSED = 2;
})();
"""


@pytest.fixture
def live_page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.add_init_script(WATCH_EVENTSOURCE)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda e: page.js_errors.append(str(e)))
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


@pytest.fixture
def live_worker(redis_app):
    with start_worker(
        redis_app, pool="threads", concurrency=4, perform_ping_check=False, queues=["live"]
    ) as worker:
        yield worker


def _events_path(campaign, reply_id: int) -> str:
    return f"/campaigns/{campaign.slug}/live/replies/{reply_id}/events/"


def _log(page, load: int, path: str) -> list[tuple[str, str, str | None]]:
    raw = page.evaluate("(key) => sessionStorage.getItem(key)", f"sse:{load}:{path}")
    return [tuple(row) for row in json.loads(raw or "[]")]


def _order(event_id: str) -> tuple[int, ...]:
    """An event id as a sortable key (the file relay's offsets, Redis's ms-seq)."""
    return tuple(int(x) for x in event_id.split("-"))


def _loads(page) -> int:
    return int(page.evaluate("() => sessionStorage.getItem('loads') || '0'"))


def _folded(log) -> str:
    text = ""
    for kind, _id, data in log:
        if kind == "reset":
            text = ""
        elif kind == "delta":
            text += json.loads(data)["text"]
    return text


def _pane(page, side: str, index: int) -> str:
    return page.locator(f"#reply-{side}-{index} .response-body").text_content() or ""


def _until(predicate, *, timeout: float, what: str, page) -> None:
    """Poll the page (its CSP forbids the eval that wait_for_function needs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def _axe(page, name: str) -> None:
    """axe-core on the page as it is (a stream open: no waiting for the network to go idle)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS)
    problems = [
        f"{v['id']} ({v['impact']}): " + "; ".join(str(n["target"]) for n in v["nodes"][:4])
        for v in results.response["violations"]
    ]
    assert problems == [], f"{name}: {problems}"


def _start(page, base: str, campaign, message: str) -> LiveTurn:
    page.goto(f"{base}/campaigns/{campaign.slug}/live/")
    page.click("#live-start")
    page.fill("#live-message", message)
    page.click("#live-send-submit")
    page.wait_for_selector("#reply-left-1[data-events-url]")
    return LiveTurn.objects.order_by("-id").first()


def _replies(turn) -> tuple[int, int]:
    """(left id, right id) of a turn, as the page shows them."""
    a, b = turn.reply_a_id, turn.reply_b_id
    return (a, b) if turn.left_is_a else (b, a)


def test_a_reload_mid_stream_shows_the_text_so_far_and_streams_on(
    live_server, transactional_db, live_worker, live_page, screenshot_dir
):
    page = live_page
    campaign = live_campaign(slug="reload")
    Generator.objects.filter(campaign=campaign).update(params={"tokens_per_second": 6})
    live_rater(campaign)
    login(page, live_server, "bob")
    turn = _start(page, live_server.url, campaign, "Explain, step by step, how green tea is made.")
    left_id, right_id = _replies(turn)
    path = _events_path(campaign, left_id)
    _until(lambda: len(_pane(page, "left", 1).split()) >= 6, timeout=30, what="text", page=page)
    first = _loads(page)
    before = _log(page, first, path)
    shown_before = _pane(page, "left", 1)
    assert Candidate.objects.get(id=left_id).status == "running"
    page.reload()
    assert _loads(page) == first + 1
    # The text so far is back at once (replayed from the first event), and it keeps coming.
    _until(
        lambda: len(_pane(page, "left", 1)) >= len(shown_before),
        timeout=20,
        what="the replayed text",
        page=page,
    )
    page.wait_for_selector("#live-vote", timeout=60_000)  # both ended: the page shows the vote
    assert _loads(page) == first + 2
    reply = Candidate.objects.get(id=left_id)
    after = _log(page, first + 1, path)
    deltas_before = [row for row in before if row[0] == "delta"]
    deltas_after = [row for row in after if row[0] == "delta"]
    # The second load started from the first event, and went past where the first stopped.
    assert deltas_after[: len(deltas_before)] == deltas_before
    assert len(deltas_after) > len(deltas_before)
    assert after[-1][0] == "end" and _folded(after) == reply.text
    assert _folded(_log(page, first + 1, _events_path(campaign, right_id))) == (
        Candidate.objects.get(id=right_id).text
    )
    # The finished reply is the server's rendering of the whole text.
    assert page.locator("#reply-left-1 .response-body").inner_html().strip() == reply.html.strip()
    assert page.js_errors == []


def test_a_dropped_connection_resumes_with_last_event_id(
    live_server, transactional_db, live_worker, live_page, screenshot_dir
):
    page = live_page
    campaign = live_campaign(slug="dropped")
    Generator.objects.filter(campaign=campaign).update(params={"tokens_per_second": 6})
    live_rater(campaign)
    host, port = live_server.thread.host, live_server.thread.port
    proxy = DroppingProxy(host, port)
    try:
        login(page, SimpleNamespace(url=proxy.url), "bob")  # through the proxy
        turn = _start(page, proxy.url, campaign, "Explain, step by step, how green tea is made.")
        paths = [_events_path(campaign, reply_id) for reply_id in _replies(turn)]
        load = _loads(page)
        _until(
            lambda: all(sum(r[0] == "delta" for r in _log(page, load, p)) >= 3 for p in paths),
            timeout=30,
            what="both replies streaming",
            page=page,
        )
        assert proxy.drop_all() >= 2
        statuses = Candidate.objects.filter(prompt=turn.prompt).values_list("status", flat=True)
        assert set(statuses) == {"running"}, "a reply ended before the drop"
        _until(
            lambda: all(
                any(r[0] == "error" and r[2] is None for r in _log(page, load, p)) for p in paths
            ),
            timeout=10,
            what="the browser to see the connection drop",
            page=page,
        )
        page.screenshot(path=str(screenshot_dir / "live-dropped.png"))
        page.wait_for_selector("#live-vote", timeout=60_000)
    finally:
        proxy.close()
    for path, reply_id in zip(paths, _replies(turn), strict=True):
        log = _log(page, load, path)
        ids = [_order(i) for _, i, _ in log if i]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), "an event came twice"
        dropped = next(n for n, row in enumerate(log) if row[0] == "error" and row[2] is None)
        had = [i for _, i, _ in log[:dropped] if i][-1]  # the last event before the drop
        assert [r[0] for r in log[dropped:]].count("open") >= 1  # it connected again
        assert log[-1][0] == "end"
        assert _folded(log) == Candidate.objects.get(id=reply_id).text  # nothing lost or repeated
        asked = proxy.requests_for(path)
        assert len(asked) >= 2 and "last-event-id" not in asked[0].lower()
        # It came back saying the last event it had.
        assert f"last-event-id: {had}" in asked[1].lower(), asked
    assert page.js_errors == []


def test_a_three_turn_conversation_from_the_keyboard(
    live_server, transactional_db, live_worker, live_page, screenshot_dir
):
    page = live_page
    campaign = live_campaign(slug="keys", max_turns=3, arena_reveal=True)
    Generator.objects.filter(campaign=campaign).update(params={"tokens_per_second": 30})
    live_rater(campaign)
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/live/")
    page.focus("#live-start")
    page.keyboard.press("Enter")
    page.wait_for_selector("#live-message")
    messages = [
        "How do I brew green tea?",
        "And how long should it steep?",
        "Which cups keep it warm longest?",
    ]
    keys = ["1", "2", "1"]  # A, B, A is better
    for index, (message, key) in enumerate(zip(messages, keys, strict=True), start=1):
        # The message box has the focus: type, then Ctrl+Enter sends.
        assert page.evaluate("() => document.activeElement.id") == "live-message"
        page.keyboard.type(message)
        page.keyboard.press("Control+Enter")
        page.wait_for_selector(f"#reply-right-{index}[data-events-url]")
        _until(
            lambda index=index: _pane(page, "left", index) and _pane(page, "right", index),
            timeout=30,
            what="both replies streaming",
            page=page,
        )
        if index == 2:
            page.screenshot(path=str(screenshot_dir / "live-1366-streaming.png"))
            _axe(page, "live streaming")
        page.wait_for_selector("#live-vote", timeout=60_000)
        if index == 2:
            page.screenshot(path=str(screenshot_dir / "live-1366-vote.png"))
            _axe(page, "live vote")
            # The vote is in view with the two replies: nothing to scroll to vote.
            assert page.locator("#live-vote-submit").is_visible()
            box = page.locator("#live-vote-submit").bounding_box()
            assert box["y"] + box["height"] <= 768
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        # The next message box, or after the last vote the names.
        page.wait_for_selector("#live-message" if index < 3 else "#live-reveal", timeout=20_000)
        # The reply chosen is marked in the turn above, the other not.
        side, other = ("left", "right") if key == "1" else ("right", "left")
        assert page.locator(f"#reply-{side}-{index}.live-chosen").count() == 1
        assert page.locator(f"#reply-{other}-{index}.live-chosen").count() == 0
        turn = LiveTurn.objects.get(index=index)
        left_is_chosen = key == "1"
        chosen = "a" if turn.left_is_a == left_is_chosen else "b"
        assert turn.voted_at and turn.continued_with == chosen
        if index > 1:
            earlier = LiveTurn.objects.get(index=index - 1)
            assert turn.prompt.messages[-2] == {
                "role": "assistant",
                "content": earlier.continuation,
            }
            assert turn.prompt.messages[-1] == {"role": "user", "content": message}
    page.screenshot(path=str(screenshot_dir / "live-1366-revealed.png"))
    _axe(page, "live revealed")
    third = LiveTurn.objects.get(index=3)
    assert len(third.prompt.messages) == 5
    assert LiveConversation.objects.get().status == "ended"
    reveal = page.locator("#live-reveal").text_content()
    assert "demo-alpha" in reveal and "demo-beta" in reveal
    assert page.js_errors == []


HOSTILE = """# Title <script>alert(1)</script>

Some **bold** and *em* and `code <b>x</b>` and [a link](javascript:alert(1)).
<img src=x onerror=alert(2)>

- one
- two <iframe src="//evil"></iframe>

1. first
2. second

```html
<script>alert(3)</script>
```

> quoted <a href="javascript:alert(4)">x</a>
"""


def test_the_streaming_preview_renders_markdown_and_never_html(
    live_server, transactional_db, live_page
):
    page = live_page
    campaign = live_campaign(slug="preview")
    live_rater(campaign)
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/live/")
    html = page.evaluate(
        """(text) => {
          const box = document.createElement("div");
          box.appendChild(window.LiveMarkdown.render(text));
          return box.innerHTML;
        }""",
        HOSTILE,
    )
    tags = page.evaluate(
        """(text) => {
          const box = document.createElement("div");
          box.appendChild(window.LiveMarkdown.render(text));
          return [...box.querySelectorAll("*")].map((n) => [n.tagName.toLowerCase(),
            [...n.attributes].map((a) => a.name)]);
        }""",
        HOSTILE,
    )
    names = {tag for tag, _ in tags}
    assert names <= {"h1", "p", "strong", "em", "code", "ul", "ol", "li", "pre", "blockquote"}
    assert {"h1", "strong", "em", "code", "ul", "ol", "li", "pre", "blockquote"} <= names
    assert all(attrs in ([], ["class"]) for _, attrs in tags)  # pre's class only; no href, no on*
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "javascript:" not in html.replace("javascript:alert(4)", "")  # only as quoted text
    assert page.dialogs == []
    assert page.js_errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_live_page_in_both_colour_schemes(
    scheme, live_server, transactional_db, browser, screenshot_dir
):
    """axe-core on the states no worker is needed for (the replies streamed in this process): a
    voted turn and the vote of the next, then a failed reply beside one waiting for a worker."""
    from annotate.services import live
    from tests.protocols.live.helpers import send, stream_turn, vote

    campaign = live_campaign(slug=f"a11y-{scheme}", max_turns=3, arena_reveal=True)
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    first = send(conversation, rater, "How do I brew **green** tea?")
    stream_turn(first)
    vote(first, rater, "left")
    second = send(conversation, rater, "And black tea?", seed=1)
    stream_turn(second)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, color_scheme=scheme)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, live_server, "bob")
        page.goto(f"{live_server.url}/campaigns/{campaign.slug}/live/")
        page.wait_for_selector("#live-vote")
        page.screenshot(path=str(screenshot_dir / f"live-a11y-vote-{scheme}.png"))
        _axe(page, f"live vote ({scheme})")
        vote(LiveTurn.objects.get(id=second.id), rater, "right")
        third = send(conversation, rater, "Thanks!", seed=2)
        Candidate.objects.filter(id=third.reply_a_id).update(
            status="failed", error="The provider is overloaded (529)."
        )
        page.goto(f"{live_server.url}/campaigns/{campaign.slug}/live/")
        page.wait_for_selector("#live-failed")
        page.screenshot(path=str(screenshot_dir / f"live-a11y-failed-{scheme}.png"))
        _axe(page, f"live failed ({scheme})")
        assert errors == []
    finally:
        context.close()


def test_a_long_reply_is_followed_as_it_streams_unless_the_rater_scrolls_up(
    live_server, transactional_db, live_page
):
    """The deltas are published here (the relay of this process), as a worker would: the pane
    keeps its newest line in view, and stops following once the rater scrolls up in it."""
    from annotate.live import relay
    from annotate.services import live
    from tests.protocols.live.helpers import send

    page = live_page
    campaign = live_campaign(slug="long")
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater, "Write a long list.")
    left_id, _ = _replies(turn)
    Candidate.objects.filter(id=left_id).update(status="running")
    channel = live.channel(left_id)
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/live/")
    pane = page.locator("#reply-left-1 .live-stream")

    def scroll() -> dict:
        return pane.evaluate(
            "(b) => ({top: b.scrollTop, height: b.scrollHeight, view: b.clientHeight})"
        )

    def publish(first: int, last: int) -> None:
        for i in range(first, last):
            relay.publish(channel, "delta", {"text": f"{i}. Step number {i} of the list.\n"})

    publish(1, 60)
    _until(lambda: "59. Step" in pane.text_content() or "Step number 59" in pane.text_content(),
           timeout=10, what="the 59 lines", page=page)  # fmt: skip
    at = scroll()
    assert at["height"] > 2 * at["view"]  # it overflows the pane
    assert at["height"] - at["top"] - at["view"] < 24  # and shows its end
    pane.evaluate("(b) => { b.scrollTop = 0; }")
    publish(60, 90)
    _until(lambda: "Step number 89" in pane.text_content(), timeout=10, what="more", page=page)
    assert scroll()["top"] == 0  # the rater reads the top: it stays there
    relay.publish(channel, "end", {"status": "done", "stop_reason": "end_turn"})
    assert page.js_errors == []


def test_a_reset_clears_the_pane_and_a_given_up_reply_shows_its_retry(
    live_server, transactional_db, live_page
):
    """What a killed worker's replies send to the page (tests/tasks/test_live_kill9.py makes them
    with real workers; here they are published directly): a "reset" drops the half reply from
    the pane before the new one streams; the sweep's "error" marks the pane failed, and once no
    pane streams the page shows the error and the retry, with no vote."""
    from annotate.live import relay
    from annotate.services import live
    from tests.protocols.live.helpers import send

    page = live_page
    campaign = live_campaign(slug="reset")
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater, "Tell me about tea.")
    left_id, right_id = _replies(turn)
    Candidate.objects.filter(id__in=(left_id, right_id)).update(status="running")
    login(page, live_server, "bob")
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/live/")
    left = live.channel(left_id)
    for word in ("Half ", "a ", "reply ", "cut "):
        relay.publish(left, "delta", {"text": word})
    _until(lambda: "cut" in _pane(page, "left", 1), timeout=10, what="the half reply", page=page)
    relay.publish(left, "reset", {})
    relay.publish(left, "delta", {"text": "Whole new reply."})
    _until(lambda: "Whole" in _pane(page, "left", 1), timeout=10, what="the new reply", page=page)
    assert _pane(page, "left", 1).strip() == "Whole new reply."
    Candidate.objects.filter(id=left_id).update(
        status="done", text="Whole new reply.", html="<p>Whole new reply.</p>"
    )
    relay.publish(left, "end", {"status": "done", "stop_reason": "end_turn"})
    # A pane that has ended loses its Stop at once; the other, still streaming, keeps its own.
    _until(
        lambda: page.locator("#reply-left-1 .live-stop").count() == 0,
        timeout=10,
        what="the ended pane's Stop gone",
        page=page,
    )
    assert page.locator("#reply-right-1 .live-stop").is_visible()
    message = "Gave up after 3 attempts: the worker holding it stopped each time."
    Candidate.objects.filter(id=right_id).update(status="failed", error=message)
    relay.publish(live.channel(right_id), "error", {"message": message})
    page.wait_for_selector("#live-failed", timeout=10_000)  # the page reloaded by itself
    assert page.locator("#live-vote").count() == 0
    assert message in page.locator("#reply-right-1 .live-error").text_content()
    assert page.locator("#reply-right-1 .live-retry").is_visible()
    assert _pane(page, "left", 1).strip() == "Whole new reply."
    assert page.js_errors == []
