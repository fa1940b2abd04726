"""A real Celery worker streams both replies of a live turn from the queue "live": the relay gets
every chunk in order, the row holds the text so far while the reply is written, and the end."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from annotate.live import relay
from annotate.models import Candidate, Generator
from annotate.services import live
from tests.celery_broker import wait_for
from tests.protocols.live.helpers import live_campaign, live_rater


@pytest.mark.slow
def test_a_worker_on_the_live_queue_streams_both_replies(transactional_db, redis_app):
    campaign = live_campaign()
    # Slow enough that each reply streams past live.SAVE_EVERY, so its text is saved mid-way.
    Generator.objects.filter(campaign=campaign).update(params={"tokens_per_second": 25})
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    with start_worker(
        redis_app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        queues=["celery", "live"],
    ):
        turn = live.message_send(
            conversation=conversation, rater=rater, text="Explain how tea is made, step by step."
        )
        ids = (turn.reply_a_id, turn.reply_b_id)
        partial = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = list(Candidate.objects.filter(id__in=ids).values_list("status", "text"))
            partial |= {len(text) for status, text in rows if status == "running" and text}
            if all(status == "done" for status, _ in rows):
                break
            time.sleep(0.1)
        wait_for(
            lambda: Candidate.objects.filter(id__in=ids, status="done").count() == 2,
            timeout=5,
            what="both replies",
        )
    for reply in Candidate.objects.filter(id__in=ids):
        events = relay.backend().read(live.channel(reply.id), None)
        kinds = [e.kind for e in events]
        assert kinds[-1] == "end" and kinds.count("delta") > 3
        assert "".join(e.data["text"] for e in events if e.kind == "delta") == reply.text
        assert reply.ttft_ms is not None and reply.latency_ms > reply.ttft_ms
    # The text so far was on the row while the replies were written (every SAVE_EVERY seconds).
    assert partial
