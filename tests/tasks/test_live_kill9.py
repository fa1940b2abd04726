"""kill -9 the worker streaming a live turn, mid-reply, nobody presses anything. A second real worker
(serving, beating and sweeping all along) finds the dead one's heartbeat stopped and the sweep
sends its replies again: one is generated again from its first token (a "reset" event, then the
whole text, one "end", one finished row), the other was on its last try and fails visibly (an
"error" event for the pane, the page's retry). Between the kill and the end, no half reply is
ever done, votable or offered on the page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from annotate.live import relay
from annotate.models import Candidate, Generator, LiveTurn, WorkRecovery
from annotate.providers.demo import DemoProvider
from annotate.services import live
from annotate.services.generation import request_for
from tests.celery_broker import REDIS_URL, wait_for
from tests.fakes.worker import KillRig
from tests.protocols.live.helpers import live_campaign, live_rater
from tests.tasks.test_generation_kill9 import HEARTBEAT

MESSAGE = "Explain, step by step and thoroughly, how green tea is grown, picked and dried."
PACE = {"tokens_per_second": 6}  # three words a chunk: a chunk every half second


def _database_url() -> str:
    return f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}"


def _events(reply_id: int) -> list:
    return relay.backend().read(live.channel(reply_id), None)


def _deltas(reply_id: int) -> int:
    return sum(e.kind == "delta" for e in _events(reply_id))


def _shown(events) -> str:
    """What a pane shows after these events: deltas appended, a reset starting over."""
    text = ""
    for event in events:
        if event.kind == "reset":
            text = ""
        elif event.kind == "delta":
            text += event.data["text"]
    return text


def _full_text(reply: Candidate) -> str:
    return DemoProvider(sleep=lambda _s: None).complete(**request_for(reply)).text


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["redis", "file"])
def test_a_reply_cut_by_kill9_is_generated_again_or_fails_visibly(
    backend, transactional_db, redis_app, settings, tmp_path
):
    # The relay the workers and this process share: the broker's Redis (scaled out), or the
    # embedded files (one machine).
    relay_url = REDIS_URL if backend == "redis" else f"file://{tmp_path / 'relay'}"
    settings.LIVE_RELAY_URL = relay_url
    campaign = live_campaign(slug=f"kill9-{backend}")
    Generator.objects.filter(campaign=campaign).update(params=PACE)
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    browser = Client()
    browser.force_login(rater)
    page_url = f"/campaigns/{campaign.slug}/live/"
    log = tmp_path / "worker.log"
    rig = KillRig(
        app=redis_app,
        database_url=_database_url(),
        broker_url=REDIS_URL,
        env={**HEARTBEAT, "LIVE_RELAY_URL": relay_url},
        log_path=log,
        queue="live",
    )
    with rig:
        turn = live.message_send(conversation=conversation, rater=rater, text=MESSAGE)
        regenerated, last_try = Candidate.objects.filter(id__in=(turn.reply_a_id, turn.reply_b_id))
        wait_for(
            lambda: _deltas(regenerated.id) >= 3 and _deltas(last_try.id) >= 3,
            timeout=90,
            what="both replies to be streaming",
            interval=0.02,
        )
        rig.kill_doomed()
        cut = _shown(_events(regenerated.id))
        full = _full_text(regenerated)
        assert cut and full.startswith(cut) and len(cut) < len(full), "the reply ended first"
        # The second reply was on its last try when its worker died.
        Candidate.objects.filter(id=last_try.id).update(attempts=live.LIVE_REPLIES.max_attempts)
        statuses = Candidate.objects.filter(id__in=(regenerated.id, last_try.id))
        assert set(statuses.values_list("status", flat=True)) == {"running"}
        rig.hand_over()

        seen: list[tuple[str, str]] = []

        def ended() -> bool:
            rows = {c.id: c for c in Candidate.objects.filter(id__in=(regenerated.id, last_try.id))}
            for row in rows.values():
                seen.append((row.status, row.text))
            page = browser.get(page_url).content.decode()
            # No vote while a reply is being written again: the page offers none.
            if rows[regenerated.id].status != "done":
                assert 'id="live-vote"' not in page
                with pytest.raises(live.LiveRefused) as refused:
                    live.turn_vote(
                        turn=LiveTurn.objects.get(id=turn.id),
                        rater=rater,
                        vote=live.Vote(choice="left", key="too-early"),
                    )
                assert refused.value.code == "not_done"
            return rows[regenerated.id].status == "done" and rows[last_try.id].status == "failed"

        wait_for(ended, timeout=90, what="one reply generated again, one given up", interval=0.2)

    # Generated again: from its first token, after a reset, to the end; once.
    regenerated.refresh_from_db()
    events = _events(regenerated.id)
    kinds = [e.kind for e in events]
    assert "reset" in kinds, log.read_text()[-2000:]
    assert kinds.index("reset") > kinds.index("delta")  # the dead worker's deltas came first
    assert kinds.count("end") == 1 and kinds[-1] == "end"
    assert kinds.count("error") == 0
    after_reset = events[kinds.index("reset") + 1 :]
    assert "".join(e.data["text"] for e in after_reset if e.kind == "delta") == full
    assert _shown(events) == full
    assert (regenerated.status, regenerated.text, regenerated.attempts) == ("done", full, 2)
    assert regenerated.html and regenerated.finished_at
    # A half text was never the row's finished text, nor the end of any status but running.
    assert all(text == full for status, text in seen if status == "done")
    assert Candidate.objects.filter(prompt=turn.prompt, status="done").count() == 1
    assert Candidate.objects.filter(prompt=turn.prompt).count() == 2

    # Given up: failed with the sweep's message, and the pane was told (an "error" event).
    last_try.refresh_from_db()
    assert last_try.status == "failed" and "Gave up after 3 attempts" in last_try.error
    last_event = _events(last_try.id)[-1]
    assert last_event.kind == "error" and "Gave up after 3 attempts" in last_event.data["message"]
    assert relay.finished(live.channel(last_try.id), last_event.id)  # the EventSource gets a 204
    assert WorkRecovery.objects.filter(kind="live_reply").count() == 2

    # The turn cannot be voted on with a failed reply; the page shows the error and a retry.
    with pytest.raises(live.LiveRefused):
        live.turn_vote(
            turn=LiveTurn.objects.get(id=turn.id),
            rater=rater,
            vote=live.Vote(choice="left", key="half"),
        )
    page = browser.get(page_url).content.decode()
    assert 'id="live-vote"' not in page and 'id="live-failed"' in page
    assert "Gave up after 3 attempts" in page and 'class="live-retry"' in page
